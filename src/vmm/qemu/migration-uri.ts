import { join } from 'node:path';
import { ValidationError } from '../../errors/index.ts';

/** The file a QEMU snapshot's memory and device state is written to (a migration stream). */
export const MEMORY_FILE = 'memory';

// QEMU runs an exec: URI through /bin/sh -c. Only paths made of these characters are ever
// put into one, so nothing in a path can be read by the shell as syntax.
const SHELL_SAFE_PATH = /^\/[A-Za-z0-9._/-]+$/;

function shellSafe(path: string, field: string): string {
  if (!SHELL_SAFE_PATH.test(path)) {
    throw new ValidationError(
      `invalid ${field} ${JSON.stringify(path)}: QEMU snapshot paths may hold only A-Z a-z 0-9 . _ / -`,
      { field, value: path },
    );
  }
  return path;
}

/** Throws ValidationError unless `dir` may appear in a migration URI. */
export function assertShellSafePath(dir: string, field = 'snapshot dir'): string {
  return shellSafe(dir, field);
}

/**
 * The outgoing URI writing a snapshot's memory into `dir` (QEMU 7.2 has no file: URI).
 * cat writes to a .part file renamed once cat succeeded: QEMU waits for the command to
 * exit when it closes the channel, yet query-migrate may say 'completed' a moment earlier,
 * so the final name appearing is the proof that every byte is on disk.
 */
export function snapshotMigrationUri(dir: string): string {
  const target = join(shellSafe(dir, 'snapshot dir'), MEMORY_FILE);
  return `exec:cat > ${target}.part && mv ${target}.part ${target}`;
}

/** The incoming URI reading a snapshot's memory back from `dir`. */
export function restoreMigrationUri(dir: string): string {
  return `exec:cat ${join(shellSafe(dir, 'snapshot dir'), MEMORY_FILE)}`;
}
