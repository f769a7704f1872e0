import { isAbsolute } from 'node:path';
import { ValidationError } from '../../errors/index.ts';

/** Restoring a VM at launch (`--restore`) from a snapshot directory. */
export interface ChRestoreArgs {
  sourceDir: string;
  /** CH's default is copy; ondemand maps memory lazily through userfaultfd (no fallback). */
  memoryRestoreMode?: 'copy' | 'ondemand';
  /** Resume the VM once restored (otherwise it stays Paused). */
  resume?: boolean;
  /** Touch all guest memory up front; excludes ondemand. */
  prefault?: boolean;
}

/** What a Cloud Hypervisor command line is built from. */
export interface ChLaunchArgs {
  /** The program: ['cloud-hypervisor'] or the simulator's [node, script]. */
  binary: string[];
  apiSocket: string;
  logFile: string;
  /** How many -v flags (0-3: warn, info, debug, trace). */
  verbosity?: number;
  eventMonitor?: string;
  restore?: ChRestoreArgs;
}

// CH parses `key=value,key=value`: a comma inside a path would split it into a bogus option.
function checkPath(field: string, path: string): string {
  if (!isAbsolute(path))
    throw new ValidationError(`${field} must be an absolute path: ${path}`, { field, path });
  if (path.includes(',')) {
    throw new ValidationError(`${field} must not contain ',' (CH splits options on it): ${path}`, {
      field,
      path,
    });
  }
  if (path.includes('\0')) throw new ValidationError(`${field} must not contain NUL`, { field, path });
  return path;
}

/** The `--restore` value: only the options that are set, in CH's documented order. */
export function buildRestoreValue(restore: ChRestoreArgs): string {
  if (restore.prefault === true && restore.memoryRestoreMode === 'ondemand') {
    throw new ValidationError('restore: prefault and memory_restore_mode=ondemand exclude each other', {
      field: 'restore',
    });
  }
  const parts = [`source_url=file://${checkPath('restore.sourceDir', restore.sourceDir)}`];
  if (restore.prefault !== undefined) parts.push(`prefault=${restore.prefault ? 'on' : 'off'}`);
  if (restore.memoryRestoreMode !== undefined) parts.push(`memory_restore_mode=${restore.memoryRestoreMode}`);
  if (restore.resume !== undefined) parts.push(`resume=${restore.resume}`);
  return parts.join(',');
}

/** The full argv of one Cloud Hypervisor process (before any namespace wrapper). */
export function buildChArgs(opts: ChLaunchArgs): string[] {
  if (opts.binary.length === 0 || opts.binary[0] === '') {
    throw new ValidationError('binary must name a program', { field: 'binary' });
  }
  const verbosity = opts.verbosity ?? 0;
  if (!Number.isInteger(verbosity) || verbosity < 0 || verbosity > 3) {
    throw new ValidationError(`verbosity must be an integer from 0 to 3, got ${verbosity}`, {
      field: 'verbosity',
    });
  }
  const argv = [
    ...opts.binary,
    '--api-socket',
    `path=${checkPath('apiSocket', opts.apiSocket)}`,
    '--log-file',
    checkPath('logFile', opts.logFile),
    ...Array.from({ length: verbosity }, () => '-v'),
  ];
  if (opts.eventMonitor !== undefined) {
    argv.push('--event-monitor', `path=${checkPath('eventMonitor', opts.eventMonitor)}`);
  }
  if (opts.restore !== undefined) argv.push('--restore', buildRestoreValue(opts.restore));
  return argv;
}
