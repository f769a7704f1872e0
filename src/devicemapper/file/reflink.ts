import { randomBytes } from 'node:crypto';
import { chmod, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CommandError } from '../../errors/index.ts';
import type { CommandRunner } from '../../exec/command-runner.ts';

/** How a disk file was copied: a reflink shares every extent; a sparse copy writes every non-zero block. */
export type CopyMethod = 'reflink' | 'sparse-copy';

/** What one copy did, and why it did not reflink when it did not. */
export interface CopyOutcome {
  method: CopyMethod;
  /** cp's complaint when a reflink was tried and refused (no support, other file system). */
  reflinkRefused?: string;
}

// cp's message when the file system refuses FICLONE: "Operation not supported" (ext4,
// tmpfs) or "Invalid cross-device link" (source on another file system).
const CLONE_REFUSED = /failed to clone/;

/** The temp name a copy to `dest` is written under before the rename (TEMP_SUFFIX matches it). */
export function tempNameFor(dest: string): string {
  return `${dest}.${randomBytes(4).toString('hex')}.tmp`;
}

/** Matches the suffix tempNameFor adds. */
export const TEMP_SUFFIX = /\.[0-9a-f]{8}\.tmp$/;

async function fsyncPath(path: string, flags: 'r' | 'r+'): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Copies `source` to `dest` so that `dest` is either absent or complete, never half written:
 * the copy goes to a temp name, is fsynced and renamed. It tries `cp --reflink=always` first
 * (unless `tryReflink` is false) and falls back to `cp --sparse=always` when the file system
 * refuses the clone. The copy is made 0600: a disk is private to its sandbox.
 */
export async function copyDiskFile(
  runner: CommandRunner,
  source: string,
  dest: string,
  options: { tryReflink?: boolean } = {},
): Promise<CopyOutcome> {
  const temp = tempNameFor(dest);
  try {
    let outcome: CopyOutcome | undefined;
    if (options.tryReflink ?? true) {
      const argv = ['cp', '--reflink=always', '--', source, temp] as const;
      const result = await runner.run(argv[0], argv.slice(1), { allowFailure: true, timeoutMs: 120_000 });
      if (result.exitCode === 0) outcome = { method: 'reflink' };
      else if (CLONE_REFUSED.test(result.stderr))
        outcome = { method: 'sparse-copy', reflinkRefused: result.stderr };
      else throw new CommandError(argv, result.exitCode, result.stderr);
    }
    if (outcome?.method !== 'reflink') {
      // Large images take a while to copy without reflink: allow minutes, not the default 30 s.
      await runner.run('cp', ['--reflink=never', '--sparse=always', '--', source, temp], {
        timeoutMs: 600_000,
      });
      outcome ??= { method: 'sparse-copy' };
    }
    await chmod(temp, 0o600);
    await fsyncPath(temp, 'r+');
    await rename(temp, dest);
    await fsyncPath(dirname(dest), 'r');
    return outcome;
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Whether files in `dir` can be reflinked: clones a small probe file there and removes both.
 * The answer holds for every file on that file system.
 */
export async function probeCopyMethod(runner: CommandRunner, dir: string): Promise<CopyOutcome> {
  const probe = join(dir, `.reflink-probe.${randomBytes(4).toString('hex')}`);
  const clone = `${probe}.clone`;
  try {
    await writeFile(probe, randomBytes(4096), { mode: 0o600 });
    const argv = ['cp', '--reflink=always', '--', probe, clone] as const;
    const result = await runner.run(argv[0], argv.slice(1), { allowFailure: true });
    if (result.exitCode === 0) return { method: 'reflink' };
    if (CLONE_REFUSED.test(result.stderr)) return { method: 'sparse-copy', reflinkRefused: result.stderr };
    throw new CommandError(argv, result.exitCode, result.stderr);
  } finally {
    await Promise.all([rm(probe, { force: true }), rm(clone, { force: true })]);
  }
}
