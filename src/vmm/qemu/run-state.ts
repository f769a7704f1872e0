import type { VmState } from '../vm-driver.ts';
import type { RunState } from './qmp-schemas.ts';

// Every QEMU run state as the worker sees it (the same five states CH has).
const STATE_BY_RUNSTATE: Record<RunState, VmState> = {
  running: 'running',
  paused: 'paused',
  postmigrate: 'paused',
  prelaunch: 'paused',
  'finish-migrate': 'paused',
  suspended: 'paused',
  debug: 'paused',
  'io-error': 'paused',
  watchdog: 'paused',
  'save-vm': 'paused',
  'restore-vm': 'paused',
  colo: 'paused',
  inmigrate: 'created',
  shutdown: 'shutdown',
  'guest-panicked': 'shutdown',
  'internal-error': 'shutdown',
};

// States `cont` starts from (postmigrate: after a snapshot; QEMU re-activates the disk).
const RESUMABLE: ReadonlySet<RunState> = new Set([
  'paused',
  'postmigrate',
  'prelaunch',
  'debug',
  'io-error',
  'watchdog',
]);

/** The backend-neutral state of a QEMU run state: inmigrate is 'created', stopped kinds are 'paused'. */
export function vmStateOf(status: RunState): VmState {
  return STATE_BY_RUNSTATE[status];
}

/** Whether `cont` starts the VM from this run state. */
export function isResumable(status: RunState): boolean {
  return RESUMABLE.has(status);
}
