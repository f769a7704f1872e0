import {
  ALL_STATES,
  type ChAnswer,
  CONFIG_ONLY,
  cellsOf,
  FROM_API,
  OWNED,
  UNCHANGED,
  VM_ALREADY_CREATED,
  VM_CONFIG,
  VM_MIGRATING,
  VM_NOT_CREATED,
  VM_NOT_RUNNING,
} from './cell.ts';

// Lifecycle endpoints: vmm/src/api/http/http_endpoint.rs (handlers), vmm/src/api/mod.rs
// (ApiError messages, one per endpoint), vmm/src/lib.rs (`impl RequestHandler for Vmm`) and
// vmm/src/vm.rs (VmState::valid_transition, Vm::pause/resume). The VMM keeps a VM config
// (vm_config) apart from the VM it boots from it: vm.shutdown drops the VM and keeps the
// config, so vm.info then says Created and vm.boot works again; CH never reports Shutdown.

const PAUSED_TWICE = [
  'Cannot pause VM',
  'Failed to pause migratable component',
  'Invalid transition: InvalidStateTransition(Paused, Paused)',
];
const RESUMED_TWICE = [
  'Cannot resume VM',
  'Failed to resume migratable component',
  'Invalid transition: InvalidStateTransition(Running, Running)',
];

const ping = cellsOf('GET', 'vmm.ping', 'lib.rs Vmm::vmm_ping: answers in every state');
const vmmShutdown = cellsOf(
  'PUT',
  'vmm.shutdown',
  'http_endpoint.rs VmmShutdown answers 200 (not 204); lib.rs Vmm::vmm_shutdown deletes the VM, and the request returns true, which ends the control loop and the process whatever the answer',
);
const create = cellsOf('PUT', 'vm.create', 'lib.rs Vmm::vm_create: only stores the config');
const boot = cellsOf('PUT', 'vm.boot', 'lib.rs Vmm::vm_boot: boots a VM from the stored config');
const info = cellsOf('GET', 'vm.info', 'lib.rs Vmm::vm_info: Created whenever a config exists and no VM');
const pause = cellsOf('PUT', 'vm.pause', 'lib.rs Vmm::vm_pause; vm.rs Vm::pause checks the transition');
const resume = cellsOf('PUT', 'vm.resume', 'lib.rs Vmm::vm_resume; vm.rs Vm::resume checks the transition');
const shutdown = cellsOf(
  'PUT',
  'vm.shutdown',
  'lib.rs Vmm::vm_shutdown takes the VM (take_owned_or VmNotRunning) and drops it; the config stays',
);
const reboot = cellsOf(
  'PUT',
  'vm.reboot',
  'lib.rs Vmm::vm_reboot: take_owned_or(VmNotCreated), shut down, boot a new VM from the same config',
);
const del = cellsOf(
  'PUT',
  'vm.delete',
  'lib.rs Vmm::vm_delete: Ok with no config; shuts an owned VM down, then forgets the config',
);
const powerButton = cellsOf(
  'PUT',
  'vm.power-button',
  'lib.rs Vmm::vm_power_button notifies the guest; a guest that powers off writes guest_exit_evt and, without --no-shutdown, the VMM runs vmm_shutdown and exits 0 (the simulator plays an ACPI-aware guest)',
);
const counters = cellsOf(
  'GET',
  'vm.counters',
  'lib.rs Vmm::vm_counters; api/mod.rs maps its errors to ApiError::VmInfo',
);

const notRunning = (message: string) => ({ status: 500, chain: [FROM_API, message, VM_NOT_RUNNING] });
const migrating = (message: string) => ({ status: 500, chain: [FROM_API, message, VM_MIGRATING] });

/** vmm.ping, vmm.shutdown, vm.create, vm.boot, vm.info, vm.pause, vm.resume, vm.shutdown, vm.reboot, vm.delete, vm.power-button and vm.counters in every state. */
export const LIFECYCLE_ANSWERS: readonly ChAnswer[] = [
  ...ALL_STATES.map((s) => ping(s, { status: 200, reply: {}, after: UNCHANGED[s] })),

  ...ALL_STATES.filter((s) => s !== 'migrating').map((s) => vmmShutdown(s, { status: 200, after: 'exited' })),
  vmmShutdown('migrating', { ...migrating('The VMM could not shutdown'), after: 'exited' }),

  create('no-vm', { body: VM_CONFIG, status: 204, after: 'Created' }),
  ...ALL_STATES.filter((s) => s !== 'no-vm' && s !== 'migrating').map((s) =>
    create(s, {
      body: VM_CONFIG,
      status: 500,
      chain: [FROM_API, 'The VM could not be created', VM_ALREADY_CREATED],
      after: UNCHANGED[s],
    }),
  ),
  create('migrating', { body: VM_CONFIG, ...migrating('The VM could not be created'), after: 'Running' }),

  boot('no-vm', {
    status: 404,
    chain: [FROM_API, 'The VM could not boot', 'VM config is missing'],
    after: 'no VM',
    why: 'VmMissingConfig maps to 404 (http/mod.rs api_error_status_code)',
  }),
  ...CONFIG_ONLY.map((s) => boot(s, { status: 204, after: 'Running' })),
  ...OWNED.map((s) =>
    boot(s, {
      status: 500,
      chain: [FROM_API, 'The VM could not boot', VM_ALREADY_CREATED],
      after: UNCHANGED[s],
    }),
  ),
  boot('migrating', { ...migrating('The VM could not boot'), after: 'Running' }),

  info('no-vm', {
    status: 404,
    chain: [FROM_API, 'The VM info is not available', VM_NOT_CREATED],
    after: 'no VM',
  }),
  ...ALL_STATES.filter((s) => s !== 'no-vm').map((s) =>
    info(s, { status: 200, reply: { state: UNCHANGED[s] }, after: UNCHANGED[s] }),
  ),

  ...['no-vm' as const, ...CONFIG_ONLY].map((s) =>
    pause(s, { ...notRunning('The VM could not be paused'), after: UNCHANGED[s] }),
  ),
  pause('running', { status: 204, after: 'Paused' }),
  ...(['paused', 'restored'] as const).map((s) =>
    pause(s, {
      status: 500,
      chain: [FROM_API, 'The VM could not be paused', ...PAUSED_TWICE],
      after: 'Paused',
    }),
  ),
  pause('migrating', { ...migrating('The VM could not be paused'), after: 'Running' }),

  ...['no-vm' as const, ...CONFIG_ONLY].map((s) =>
    resume(s, { ...notRunning('The VM could not resume'), after: UNCHANGED[s] }),
  ),
  resume('running', {
    status: 500,
    chain: [FROM_API, 'The VM could not resume', ...RESUMED_TWICE],
    after: 'Running',
  }),
  ...(['paused', 'restored'] as const).map((s) => resume(s, { status: 204, after: 'Running' })),
  resume('migrating', { ...migrating('The VM could not resume'), after: 'Running' }),

  ...['no-vm' as const, ...CONFIG_ONLY].map((s) =>
    shutdown(s, { ...notRunning('The VM could not shutdown'), after: UNCHANGED[s] }),
  ),
  ...OWNED.map((s) => shutdown(s, { status: 204, after: 'Created' })),
  shutdown('migrating', { ...migrating('The VM could not shutdown'), after: 'Running' }),

  ...['no-vm' as const, ...CONFIG_ONLY].map((s) =>
    reboot(s, {
      status: 404,
      chain: [FROM_API, 'The VM could not reboot', VM_NOT_CREATED],
      after: UNCHANGED[s],
    }),
  ),
  ...OWNED.map((s) => reboot(s, { status: 204, after: 'Running' })),
  reboot('migrating', { ...migrating('The VM could not reboot'), after: 'Running' }),

  ...ALL_STATES.filter((s) => s !== 'migrating').map((s) => del(s, { status: 204, after: 'no VM' })),
  del('migrating', { ...migrating('The VM could not be deleted'), after: 'Running' }),

  ...['no-vm' as const, ...CONFIG_ONLY].map((s) =>
    powerButton(s, { ...notRunning('Error triggering power button'), after: UNCHANGED[s] }),
  ),
  powerButton('running', { status: 204, after: 'exited' }),
  ...(['paused', 'restored'] as const).map((s) =>
    powerButton(s, { status: 204, after: 'Paused', why: 'a paused guest acts on the button when resumed' }),
  ),
  powerButton('migrating', { ...migrating('Error triggering power button'), after: 'Running' }),

  ...['no-vm' as const, ...CONFIG_ONLY].map((s) =>
    counters(s, { ...notRunning('The VM info is not available'), after: UNCHANGED[s] }),
  ),
  ...OWNED.map((s) => counters(s, { status: 200, reply: {}, after: UNCHANGED[s] })),
  counters('migrating', { ...migrating('The VM info is not available'), after: 'Running' }),
];
