import { chmod, mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

// Snapshots hold guest memory and runtime dirs hold the VMM's API socket: nobody but the
// worker's user may read either. Modes are given at creation, so they hold under any umask
// that leaves the owner's bits (the worker also sets 077), and chmod'ed where another
// process (the VMM, QEMU's cat) created the file.

/** Mode of every file hangar writes under its state directory. */
export const PRIVATE_FILE_MODE = 0o600;

/** Mode of every directory hangar makes under its state directory. */
export const PRIVATE_DIR_MODE = 0o700;

/** Makes `dir` and any missing parents, each new one 0700; `dir` itself is set to 0700 if it existed. */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await chmod(dir, PRIVATE_DIR_MODE);
}

/** Creates `path` empty and 0600 if absent, or sets an existing one to 0600, so whoever opens it later keeps that mode. */
export async function touchPrivateFile(path: string): Promise<void> {
  const handle = await open(path, 'a', PRIVATE_FILE_MODE);
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
  } finally {
    await handle.close();
  }
}

/** Sets every directory under `dir` (itself included) to 0700 and every regular file to 0600; symlinks are left alone. */
export async function restrictTree(dir: string): Promise<void> {
  await chmod(dir, PRIVATE_DIR_MODE);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await restrictTree(path);
    else if (entry.isFile()) await chmod(path, PRIVATE_FILE_MODE);
  }
}
