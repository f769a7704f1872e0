import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';

// `<name>.<8 hex>.tmp`: the temp file writeFileAtomic renames into place.
const TEMP_NAME = /^.+\.[0-9a-f]{8}\.tmp$/;

/** Writes a file so readers see the old or the new content, never half: temp file (0600), fsync, rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    // A failure we live through leaves no temp file; one we die in leaves it for removeAtomicWriteTemps.
    await rm(temp, { force: true });
    throw error;
  }
}

/** Whether a file name (or path) is a temp file writeFileAtomic leaves when killed mid-write. */
export function isAtomicWriteTemp(name: string): boolean {
  return TEMP_NAME.test(basename(name));
}

/**
 * Removes writeFileAtomic's temp files from `dir` (and its subdirectories when `recursive`);
 * returns the removed paths, sorted. A missing `dir` is empty. Only safe when nothing writes
 * there meanwhile (a startup reconcile): it would remove a write in progress.
 */
export async function removeAtomicWriteTemps(
  dir: string,
  options: { recursive?: boolean } = {},
): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (options.recursive) removed.push(...(await removeAtomicWriteTemps(path, options)));
    } else if (entry.isFile() && isAtomicWriteTemp(entry.name)) {
      await rm(path, { force: true });
      removed.push(path);
    }
  }
  return removed.sort();
}
