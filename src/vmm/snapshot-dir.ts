import { access, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PRIVATE_DIR_MODE, restrictTree } from './private-files.ts';

/** Suffix of the directory a snapshot is written into before it is renamed into place. */
const STAGING_SUFFIX = '.partial';

/** Whether `dir` holds every file a snapshot needs (a renamed, finished snapshot). */
export async function isCompleteSnapshot(dir: string, files: readonly string[]): Promise<boolean> {
  try {
    await Promise.all(files.map((name) => access(join(dir, name))));
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a snapshot so that `dir` never looks complete while half-written: `write` fills a
 * fresh staging directory (leftovers of a crashed attempt are removed first), which is then
 * renamed to `dir` in one step. Directories are made 0700, and whatever the writer (often
 * the VMM, with its own umask) left is set to 0700 directories and 0600 files before the rename.
 */
export async function writeSnapshotAtomically(
  dir: string,
  write: (stagingDir: string) => Promise<void>,
): Promise<void> {
  const staging = `${dir}${STAGING_SUFFIX}`;
  await mkdir(dirname(dir), { recursive: true, mode: PRIVATE_DIR_MODE });
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { mode: PRIVATE_DIR_MODE });
  await write(staging);
  await restrictTree(staging);
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
}

/** Bytes really used by the files of a directory (st_blocks x 512): sparse memory files count as what they hold. */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await diskUsage(path) : (await stat(path)).blocks * 512;
  }
  return total;
}

/** Whether a path is a staging leftover that a sweep may delete. */
export function isStagingLeftover(path: string): boolean {
  return path.endsWith(STAGING_SUFFIX);
}
