import { mkdir, mkdtemp, readFile, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

/** A file system made in an image file and mounted through a loop device, owned by one test file. */
export interface ScratchFs {
  /** Temp directory holding the image and the mount point; every trace of it contains this path. */
  root: string;
  mountPoint: string;
  /** Bytes in use on the mounted file system (statfs), after a sync. */
  usedBytes(): Promise<number>;
  /** Detaches loop devices of files inside, unmounts, detaches the image's loop, removes root. */
  cleanup(): Promise<void>;
}

/** Loop devices and mounts that mention `root`: empty before a test file starts and after it ends. */
export async function tracesOf(root: string): Promise<string[]> {
  const loops = await execa('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  const mounts = await readFile('/proc/mounts', 'utf8');
  return [...String(loops.stdout).split('\n'), ...mounts.split('\n')].filter((line) => line.includes(root));
}

async function loopsUnder(prefix: string): Promise<string[]> {
  const { stdout } = await execa('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  return String(stdout)
    .split('\n')
    .map((line) => line.trim().split(/\s+/, 2))
    .filter(([name, file]) => name !== undefined && file?.startsWith(prefix))
    .map(([name]) => name as string);
}

/** Tries a cleanup step a few times (a device can be briefly busy); returns the last error. */
async function attempt(step: () => Promise<unknown>): Promise<unknown> {
  let last: unknown;
  for (let i = 0; i < 10; i += 1) {
    try {
      await step();
      return undefined;
    } catch (error) {
      last = error;
      await sleep(200);
    }
  }
  return last;
}

/**
 * Makes a `kind` file system (XFS with reflink=1, or ext4) of `sizeBytes` in a temp image and
 * mounts it. If any step fails, what was made so far is removed before the error is thrown.
 */
export async function mountScratchFs(kind: 'xfs' | 'ext4', sizeBytes = 1024 ** 3): Promise<ScratchFs> {
  const root = await mkdtemp(join(tmpdir(), `hangar-fcow-${kind}-`));
  const image = join(root, 'fs.img');
  const mountPoint = join(root, 'mnt');

  const cleanup = async (): Promise<void> => {
    const errors: unknown[] = [];
    // Loop devices over files on the mount keep it busy: detach them first.
    for (const device of await loopsUnder(`${mountPoint}/`)) {
      errors.push(await attempt(() => execa('losetup', ['-d', device])));
    }
    const mounts = await readFile('/proc/mounts', 'utf8');
    if (mounts.split('\n').some((line) => line.split(' ')[1] === mountPoint)) {
      errors.push(await attempt(() => execa('umount', [mountPoint])));
    }
    for (const device of await loopsUnder(image)) {
      errors.push(await attempt(() => execa('losetup', ['-d', device])));
    }
    await rm(root, { recursive: true, force: true });
    const failed = errors.filter((error) => error !== undefined);
    if (failed.length > 0) throw new AggregateError(failed, `cleanup of ${root} failed`);
  };

  try {
    await execa('truncate', ['-s', String(sizeBytes), image]);
    const mkfs = kind === 'xfs' ? ['mkfs.xfs', '-q', '-m', 'reflink=1', image] : ['mkfs.ext4', '-q', image];
    await execa(mkfs[0] as string, mkfs.slice(1));
    await mkdir(mountPoint);
    const { stdout: device } = await execa('losetup', ['--find', '--show', image]);
    await execa('mount', [String(device).trim(), mountPoint]);
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw error;
  }

  return {
    root,
    mountPoint,
    async usedBytes() {
      await execa('sync', ['-f', mountPoint]);
      const stats = await statfs(mountPoint);
      return (stats.blocks - stats.bfree) * stats.bsize;
    },
    cleanup,
  };
}
