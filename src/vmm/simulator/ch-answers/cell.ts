// The shape of the CH answer table: one fact per cell, read from Cloud Hypervisor's source.
// The table is transcribed, not derived: the simulator is written separately and the
// conformance test (test/vmm/simulator/ch-answers.test.ts) holds the two against each other.

/** The cloud-hypervisor commit whose source every cell was read from. */
export const CH_SOURCE = {
  repository: 'github.com/cloud-hypervisor/cloud-hypervisor',
  commit: 'ae44c2971c83dd2b1bd704fa81102ec0dec4e7d4',
  date: '2026-08-20',
} as const;

/** The states a cell is asked in, each reached on a fresh VMM by the calls described. */
export const CH_STATES = {
  'no-vm': 'a fresh VMM: no vm.create yet',
  created: 'vm.create',
  running: 'vm.create, vm.boot',
  paused: 'vm.create, vm.boot, vm.pause',
  'shut-down': 'vm.create, vm.boot, vm.shutdown',
  restored: 'vm.restore of a snapshot taken while paused',
  migrating: 'vm.create, vm.boot, vm.send-migration to a receiver that accepts and never answers',
} as const;

/** A state a cell is asked in. */
export type ChState = keyof typeof CH_STATES;

/** What vm.info says after the call ('no VM' for its 404), or 'exited': the process ended with 0. */
export type ChAfter = 'no VM' | 'Created' | 'Running' | 'Paused' | 'exited';

/** The files of a CH snapshot directory. */
export type ChSnapshotFile = 'config.json' | 'state.json' | 'memory-ranges';

/**
 * One fact: what CH answers to one request in one state, and where it leaves the VMM.
 * In paths and bodies, `{work}` is a fresh directory of the cell and `{snapshot}` a complete
 * snapshot of a paused VM made from the VmConfig every state is reached with; a body that
 * is just VM_CONFIG is that VmConfig.
 */
export interface ChAnswer {
  /** The endpoint under /api/v1 (`vm.pause`), or a whole path when it starts with '/'. */
  endpoint: string;
  method: 'GET' | 'PUT' | 'PATCH' | 'DELETE' | 'POST';
  state: ChState;
  /** A JSON body, sent serialized. */
  body?: unknown;
  /** A body sent as is (for bodies that are not JSON). */
  raw?: string;
  /** Made under {work} before the call: paths (a trailing '/' makes a directory, else a 1 MiB sparse file), and a copy of {snapshot} at {work}/snap less one file. */
  given?: { paths?: string[]; snapshotCopy?: { without?: ChSnapshotFile } };
  /** A second VMM, running, that calls vm.send-migration to this cell's receiver_url once the call is made. */
  peer?: 'sends-from-running';
  status: number;
  /** The error body as CH's chain of messages, outermost first; [] for an empty body. */
  chain?: readonly string[];
  /** An error body that is not a chain (micro_http's own 400s), verbatim. */
  text?: string;
  /** Fields a 200 body has (a subset). */
  reply?: Record<string, unknown>;
  after: ChAfter;
  /** Paths under {work} that exist after the call. */
  files?: readonly string[];
  /** Where the answer comes from in CH's source, and anything a reader needs to see why. */
  why: string;
}

/** A body that stands for the VmConfig every state is reached with (net `net0`, disk `rootfs`, 1 of 2 vCPUs). */
export const VM_CONFIG = '{vmConfig}';

/** The top of every chain for a call the VMM refused (HttpError::ApiError). */
export const FROM_API = 'Error from API';

/** Makes the cells of one endpoint: the request parts they share, then one answer per call. */
export function cellsOf(
  method: ChAnswer['method'],
  endpoint: string,
  why: string,
): (
  state: ChState,
  answer: Omit<ChAnswer, 'method' | 'endpoint' | 'state' | 'why'> & { why?: string },
) => ChAnswer {
  return (state, answer) => ({
    method,
    endpoint,
    state,
    ...answer,
    why: answer.why === undefined ? why : `${why}; ${answer.why}`,
  });
}

/** What vm.info says in each state when a call changes nothing (a migrating VMM answers the VM's last info). */
export const UNCHANGED: Readonly<Record<ChState, ChAfter>> = {
  'no-vm': 'no VM',
  created: 'Created',
  running: 'Running',
  paused: 'Paused',
  'shut-down': 'Created',
  restored: 'Paused',
  migrating: 'Running',
};

/** Every state, in the table's order. */
export const ALL_STATES = Object.keys(CH_STATES) as ChState[];

/** States with a VM config and no VM (CH's vm_config set, vm None). */
export const CONFIG_ONLY: readonly ChState[] = ['created', 'shut-down'];

/** States with a VM the VMM owns (Running or Paused). */
export const OWNED: readonly ChState[] = ['running', 'paused', 'restored'];

// vmm/src/vm.rs `enum Error` messages that recur across endpoints.
/** VmError::VmNotCreated (HTTP 404). */
export const VM_NOT_CREATED = 'VM is not created';
/** VmError::VmNotRunning: any call that needs the VM when only a config (or nothing) exists. */
export const VM_NOT_RUNNING = 'VM is not running';
/** VmError::VmAlreadyCreated. */
export const VM_ALREADY_CREATED = 'VM is already created';
/** VmError::VmMigrating: the send-migration worker holds the VM. */
export const VM_MIGRATING = "VM is currently migrating and can't be modified";
