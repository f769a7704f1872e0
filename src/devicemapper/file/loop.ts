import { CommandError } from '../../errors/index.ts';
import { type BusyRetryOptions, retryOnBusy } from '../busy-retry.ts';
import type { LoopRegistry } from '../loop-registry.ts';
import type { LoopDevice } from '../losetup.ts';

const DELETED = ' (deleted)';

/** The path a loop device's backing file had, and whether that file has been unlinked since. */
export function backingOf(loop: LoopDevice): { path: string; deleted: boolean } {
  const deleted = loop.backFile.endsWith(DELETED);
  return { path: deleted ? loop.backFile.slice(0, -DELETED.length) : loop.backFile, deleted };
}

/** The loop devices attached to `file` (matched by inode, as `losetup -j` does), sorted. */
export async function loopsOf(loops: LoopRegistry, file: string): Promise<string[]> {
  return (await loops.listByFile(file)).map((loop) => loop.device).sort();
}

/**
 * Detaches every device `current()` lists, then lists again. A device still listed is held
 * open (for an open device the kernel only sets auto-clear and losetup succeeds), which
 * counts as busy and is retried (default 5 x 200 ms) before DeviceBusyError. Returns the
 * devices detached.
 */
export async function detachAll(
  loops: LoopRegistry,
  current: () => Promise<string[]>,
  retry: BusyRetryOptions = {},
): Promise<string[]> {
  const detached = new Set<string>();
  await retryOnBusy(async () => {
    for (const device of await current()) {
      await loops.detach(device);
      detached.add(device);
    }
    const left = await current();
    if (left.length > 0) {
      for (const device of left) detached.delete(device);
      throw new CommandError(
        ['losetup', '-d', ...left],
        0, // losetup itself succeeded: the kernel only set auto-clear on an open device
        `Device or resource busy: ${left.join(', ')} still attached (held open; auto-clear pending)`,
      );
    }
  }, retry);
  return [...detached].sort();
}
