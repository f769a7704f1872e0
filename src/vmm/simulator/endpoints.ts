/**
 * How CH's HTTP layer routes a request (vmm/src/api/http): `own` endpoints have a handler
 * that answers a wrong method with the chain ["Bad Request"]; `action` endpoints go through
 * VmActionHandler, which answers methods other than GET and PUT with an empty 400. `body`
 * says whether a body is ignored, refused (none) or needed and parsed as JSON.
 */
export interface SimRoute {
  method: 'GET' | 'PUT';
  handler: 'own' | 'action';
  body: 'ignored' | 'none' | 'json';
}

const action = (body: SimRoute['body']): SimRoute => ({ method: 'PUT', handler: 'action', body });

/** Every endpoint the simulator serves, routed as CH routes it. */
export const SIM_ENDPOINTS = {
  'vmm.ping': { method: 'GET', handler: 'own', body: 'ignored' },
  'vmm.shutdown': { method: 'PUT', handler: 'own', body: 'ignored' },
  'vm.create': { method: 'PUT', handler: 'own', body: 'json' },
  'vm.info': { method: 'GET', handler: 'own', body: 'ignored' },
  'vm.counters': { method: 'GET', handler: 'action', body: 'ignored' },
  'vm.boot': action('none'),
  'vm.pause': action('none'),
  'vm.resume': action('none'),
  'vm.shutdown': action('none'),
  'vm.reboot': action('none'),
  'vm.delete': action('none'),
  'vm.power-button': action('none'),
  'vm.resize': action('json'),
  'vm.resize-zone': action('json'),
  'vm.snapshot': action('json'),
  'vm.restore': action('json'),
  'vm.add-net': action('json'),
  'vm.add-disk': action('json'),
  'vm.remove-device': action('json'),
  'vm.send-migration': action('json'),
  'vm.receive-migration': action('json'),
} as const satisfies Record<string, SimRoute>;

/** An endpoint name such as `vm.snapshot`. */
export type SimEndpoint = keyof typeof SIM_ENDPOINTS;

/** Whether `name` is an endpoint the simulator serves. */
export function isSimEndpoint(name: string): name is SimEndpoint {
  return Object.hasOwn(SIM_ENDPOINTS, name);
}
