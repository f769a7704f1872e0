import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CommandRunner } from '../../exec/command-runner.ts';

/** Suffix of the CoW files in a provider's data dir. */
export const COW_SUFFIX = '.cow';
/** Suffix of a copy still being written: renamed into place only once complete. */
export const PARTIAL_SUFFIX = '.partial';

/** Where a sandbox's CoW file lives (the id is checked by the caller). */
export function cowPathOf(dataDir: string, sandboxId: string): string {
  return join(dataDir, `${sandboxId}${COW_SUFFIX}`);
}

/** Bytes really used by a file (st_blocks x 512, not its apparent size); undefined if absent. */
export async function usedBytesOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).blocks * 512;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Makes `path` a sparse file of at least `bytes` (created if missing, grown if short, never shrunk). */
export async function ensureSparseSize(path: string, bytes: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'a');
  try {
    if ((await handle.stat()).size < bytes) await handle.truncate(bytes);
  } finally {
    await handle.close();
  }
}

/** Deletes a file; already gone is fine. */
export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** A sparse copy: `cp --sparse=always SRC DEST` (holes stay holes). */
export function sparseCopyArgv(source: string, dest: string): [string, ...string[]] {
  return ['cp', '--sparse=always', source, dest];
}

/** A sparse, flushed copy of a whole block device into an image file. */
export function flattenArgv(device: string, dest: string): [string, ...string[]] {
  return ['dd', `if=${device}`, `of=${dest}`, 'bs=1M', 'conv=sparse,fsync', 'status=none'];
}

/**
 * Runs a copy command into `dest.partial`, then renames it to `dest`: a crash mid-copy never
 * leaves a file under the final name that a retry would trust. `argvFor` gets the partial path.
 */
export async function copyIntoPlace(
  runner: CommandRunner,
  dest: string,
  argvFor: (partial: string) => [string, ...string[]],
): Promise<void> {
  const partial = `${dest}${PARTIAL_SUFFIX}`;
  await mkdir(dirname(dest), { recursive: true });
  const [file, ...args] = argvFor(partial);
  try {
    await runner.run(file, args, { timeoutMs: 30 * 60_000 });
  } catch (error) {
    await removeFile(partial);
    throw error;
  }
  await rename(partial, dest);
}
