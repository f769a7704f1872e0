import { constants } from 'node:os';
import { ErrorCode, HangarError } from '../../errors/index.ts';
import type { SimEndpoint } from './endpoints.ts';

// The simulator's vocabulary for CH's error answers. It is written apart from the answer
// table (ch-answers/) on purpose: the table is transcribed from CH's source, this is the
// model, and the conformance test holds one against the other.

/** An error answer of the simulated API: the HTTP status and CH-style error chain ([] for an empty body). */
export class SimApiFailure extends HangarError {
  readonly status: number;
  readonly chain: string[];

  constructor(status: number, chain: string[]) {
    super(ErrorCode.VmmApi, chain.join(': ') || `HTTP ${status}`, { details: { status, chain } });
    this.status = status;
    this.chain = chain;
  }
}

/** The top of the chain of every call the VMM refused (CH's HttpError::ApiError). */
export const FROM_API = 'Error from API';

/** CH's ApiError message per endpoint: the second link of a refused call's chain. */
const API_ERROR: Partial<Record<SimEndpoint, string>> = {
  'vmm.shutdown': 'The VMM could not shutdown',
  'vm.create': 'The VM could not be created',
  'vm.boot': 'The VM could not boot',
  'vm.info': 'The VM info is not available',
  'vm.counters': 'The VM info is not available',
  'vm.pause': 'The VM could not be paused',
  'vm.resume': 'The VM could not resume',
  'vm.shutdown': 'The VM could not shutdown',
  'vm.reboot': 'The VM could not reboot',
  'vm.delete': 'The VM could not be deleted',
  'vm.power-button': 'Error triggering power button',
  'vm.resize': 'The VM could not be resized',
  'vm.resize-zone': 'The memory zone could not be resized',
  'vm.snapshot': 'The VM could not be snapshotted',
  'vm.restore': 'The VM could not be restored',
  'vm.add-net': 'The network device could not be added to the VM',
  'vm.add-disk': 'The disk could not be added to the VM',
  'vm.remove-device': 'The device could not be removed from the VM',
  'vm.send-migration': 'Error dispatching the migration worker',
  'vm.receive-migration': 'Error receiving migration',
};

/** CH's VmError messages the simulator answers with. */
export const VM_ERROR = {
  notCreated: 'VM is not created',
  notRunning: 'VM is not running',
  alreadyCreated: 'VM is already created',
  missingConfig: 'VM config is missing',
  migrating: "VM is currently migrating and can't be modified",
} as const;

/** A refused call of `endpoint`: [FROM_API, its ApiError message, ...causes]. */
export function refused(endpoint: SimEndpoint, status: number, ...causes: string[]): SimApiFailure {
  return new SimApiFailure(status, [FROM_API, API_ERROR[endpoint] ?? endpoint, ...causes]);
}

/** VmError::VmNotCreated: 404, as CH maps it. */
export const notCreated = (endpoint: SimEndpoint) => refused(endpoint, 404, VM_ERROR.notCreated);
/** VmError::VmNotRunning: 500. */
export const notRunning = (endpoint: SimEndpoint) => refused(endpoint, 500, VM_ERROR.notRunning);
/** VmError::VmAlreadyCreated: 500. */
export const alreadyCreated = (endpoint: SimEndpoint) => refused(endpoint, 500, VM_ERROR.alreadyCreated);
/** VmError::VmMigrating: 500 while a send-migration holds the VM. */
export const migrating = (endpoint: SimEndpoint) => refused(endpoint, 500, VM_ERROR.migrating);

/** A string as Rust's Debug prints it (CH quotes paths and ids that way): "a\"b". */
export function rustDebug(text: string): string {
  const escaped = [...text]
    .map((ch) => {
      if (ch === '"' || ch === '\\') return `\\${ch}`;
      if (ch === '\n') return '\\n';
      if (ch === '\r') return '\\r';
      if (ch === '\t') return '\\t';
      if (ch === '\0') return '\\0';
      const code = ch.codePointAt(0) ?? 0;
      return code < 0x20 || code === 0x7f ? `\\u{${code.toString(16)}}` : ch;
    })
    .join('');
  return `"${escaped}"`;
}

// glibc's strerror texts for the errors the simulator meets.
const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EEXIST: 'File exists',
  EACCES: 'Permission denied',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  ENOSPC: 'No space left on device',
  EADDRINUSE: 'Address already in use',
  ECONNREFUSED: 'Connection refused',
};

/** A Node fs/net error as Rust's io::Error prints an OS error: "File exists (os error 17)". */
export function osErrorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const errno = code === undefined ? undefined : constants.errno[code as keyof typeof constants.errno];
  if (code === undefined || errno === undefined)
    return error instanceof Error ? error.message : String(error);
  return `${STRERROR[code] ?? code} (os error ${errno})`;
}
