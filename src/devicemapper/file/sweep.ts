import { realpath, rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { type Logger, silentLogger } from '../../logging/logger.ts';
import type { BusyRetryOptions } from '../busy-retry.ts';
import type { LoopRegistry } from '../loop-registry.ts';
import type { SweepReport } from '../root-disk-provider.ts';
import { FileDiskLayout } from './layout.ts';
import { backingOf, detachAll } from './loop.ts';

/** What sweepFileDisks needs: the layout, which sandboxes to keep, and the host's loop devices. */
export interface FileSweepOptions {
  layout: FileDiskLayout;
  owned: ReadonlySet<string>;
  loops: LoopRegistry;
  logger?: Logger;
  busyRetry?: BusyRetryOptions;
}

/**
 * Startup sweep of the file provider: detaches the loop devices of CoW files (present or
 * already deleted) whose sandbox is not owned, then deletes those CoW files and leftover
 * temp copies. Owned sandboxes keep their files and attachments. Reports device and file paths.
 */
export async function sweepFileDisks(options: FileSweepOptions): Promise<SweepReport> {
  const { layout, owned, loops } = options;
  const log = options.logger ?? silentLogger;
  const removed: string[] = [];

  // The kernel names backing files by their real path: compare against the resolved directory.
  const disksDir = await realpath(layout.disksDir).catch(() => layout.disksDir);
  const backingFiles = async (): Promise<{ device: string; path: string }[]> =>
    (await loops.listAll()).map((loop) => ({ device: loop.device, path: backingOf(loop).path }));
  const strayBacking = new Set(
    (await backingFiles())
      .filter((loop) => dirname(loop.path) === disksDir)
      .filter((loop) => {
        const parsed = FileDiskLayout.parse(basename(loop.path));
        return parsed !== undefined && !owned.has(parsed.sandboxId);
      })
      .map((loop) => loop.path),
  );
  for (const backing of strayBacking) {
    const current = async (): Promise<string[]> =>
      (await backingFiles()).filter((loop) => loop.path === backing).map((loop) => loop.device);
    const devices = await detachAll(loops, current, options.busyRetry);
    log.info({ backing, devices }, 'swept loop devices of an unowned disk');
    removed.push(...devices);
  }

  for (const entry of await layout.entries()) {
    if (owned.has(entry.sandboxId)) continue;
    await rm(entry.path, { force: true });
    log.info({ path: entry.path, sandboxId: entry.sandboxId }, 'swept an unowned disk file');
    removed.push(entry.path);
  }
  return { removed: removed.sort() };
}
