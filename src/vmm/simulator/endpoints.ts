/** Every endpoint the simulator serves, with the HTTP method CH expects for it. */
export const SIM_ENDPOINTS = {
  'vmm.ping': 'GET',
  'vmm.shutdown': 'PUT',
  'vm.create': 'PUT',
  'vm.boot': 'PUT',
  'vm.info': 'GET',
  'vm.counters': 'GET',
  'vm.pause': 'PUT',
  'vm.resume': 'PUT',
  'vm.shutdown': 'PUT',
  'vm.reboot': 'PUT',
  'vm.delete': 'PUT',
  'vm.power-button': 'PUT',
  'vm.resize': 'PUT',
  'vm.snapshot': 'PUT',
  'vm.restore': 'PUT',
  'vm.add-net': 'PUT',
  'vm.remove-device': 'PUT',
} as const;

/** An endpoint name such as `vm.snapshot`. */
export type SimEndpoint = keyof typeof SIM_ENDPOINTS;

/** Whether `name` is an endpoint the simulator serves. */
export function isSimEndpoint(name: string): name is SimEndpoint {
  return Object.hasOwn(SIM_ENDPOINTS, name);
}
