import { join } from 'node:path';
import { makePrivateDir, touchPrivateFile } from './private-files.ts';

/** Where one sandbox's VMM keeps its socket, pidfile and logs: fixed names under its runtime dir. */
export interface RuntimePaths {
  dir: string;
  apiSocket: string;
  pidfile: string;
  /** The VMM process's own stdout and stderr. */
  output: string;
  /** The VMM's log file (CH --log-file). */
  vmmLog: string;
  /** The guest's serial console. */
  serialLog: string;
  /** Scratch directory a restore is staged in. */
  restoreStaging: string;
}

/** The runtime paths of a sandbox whose runtime directory is `dir`. */
export function runtimePaths(dir: string): RuntimePaths {
  return {
    dir,
    apiSocket: join(dir, 'api.sock'),
    pidfile: join(dir, 'vmm.pid'),
    output: join(dir, 'vmm.out'),
    vmmLog: join(dir, 'vmm.log'),
    serialLog: join(dir, 'serial.log'),
    restoreStaging: join(dir, 'restore'),
  };
}

/**
 * Makes the runtime dir 0700 and `files` in it 0600 before a VMM starts: the VMM opens its
 * logs itself (CH --log-file, the serial file) and keeps an existing file's mode, where a file
 * it created would get its own umask's.
 */
export async function prepareRuntimeDir(paths: RuntimePaths, files: readonly string[]): Promise<void> {
  await makePrivateDir(paths.dir);
  await Promise.all(files.map(touchPrivateFile));
}
