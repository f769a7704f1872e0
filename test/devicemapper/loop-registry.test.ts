import { open, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LoopRegistry } from '../../src/devicemapper/loop-registry.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

// Real loop devices on small sparse files in a temp dir. Other test files run in parallel
// and may own loop devices too: every check and every cleanup looks only at devices
// backed by this file's own temp dir.

let dir: TempDir;

/** `losetup -l -n` lines whose backing file lies in our temp dir. */
async function ourLoops(): Promise<string[]> {
  const { stdout } = await execa('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  return stdout
    .split('\n')
    .filter((line) => line.includes(dir.path))
    .sort();
}

async function detachOurs(): Promise<void> {
  for (const line of await ourLoops()) {
    const device = line.trim().split(/\s+/)[0];
    if (device !== undefined) await execa('losetup', ['-d', device], { reject: false });
  }
}

async function sparseFile(name: string, bytes = 4 * 1024 * 1024): Promise<string> {
  const path = join(dir.path, name);
  await writeFile(path, '');
  await truncate(path, bytes);
  return path;
}

describe('LoopRegistry (real loop devices)', () => {
  beforeAll(async () => {
    dir = await makeTempDir('hangar-loops-');
  });

  afterEach(async () => {
    await detachOurs();
  });

  afterAll(async () => {
    await detachOurs();
    expect(await ourLoops()).toEqual([]);
    await dir.remove();
  });

  it('attaches a shared base once for two sandboxes, read-only', async () => {
    const image = await sparseFile('base-shared.img');
    const loops = new LoopRegistry();
    const [a, b] = await Promise.all([loops.acquire(image, 'sb-a'), loops.acquire(image, 'sb-b')]);
    expect(a).toMatch(/^\/dev\/loop\d+$/);
    expect(b).toBe(a);
    const attached = await loops.listByFile(image);
    expect(attached).toHaveLength(1);
    expect(attached[0]).toMatchObject({ device: a, backFile: image, readOnly: true, autoclear: false });
    expect(await loops.references(image)).toBe(2);
  });

  it('counts a repeated acquire by the same sandbox once and detaches after the last release', async () => {
    const image = await sparseFile('base-refcount.img');
    const loops = new LoopRegistry();
    const device = await loops.acquire(image, 'sb-a');
    await loops.acquire(image, 'sb-a');
    await loops.acquire(image, 'sb-b');
    expect(await loops.references(image)).toBe(2);

    await loops.release(image, 'sb-a');
    await loops.release(image, 'sb-a');
    expect(await loops.findByFile(image)).toMatchObject({ device });
    await loops.release(image, 'sb-b');
    expect(await loops.findByFile(image)).toBeUndefined();
    expect(await ourLoops()).toEqual([]);
  });

  it('finds the device again after a restart (a new registry) instead of attaching a second', async () => {
    const image = await sparseFile('base-restart.img');
    const before = await new LoopRegistry().acquire(image, 'sb-a');
    const restarted = new LoopRegistry();
    expect(await restarted.acquire(image, 'sb-a')).toBe(before);
    expect(await restarted.listByFile(image)).toHaveLength(1);
    await restarted.release(image, 'sb-a');
    expect(await ourLoops()).toEqual([]);
  });

  it('after a restart, a release by a sandbox it never saw detaches only a device nothing holds', async () => {
    const image = await sparseFile('base-forgotten.img');
    const device = await new LoopRegistry().acquire(image, 'sb-a');
    // A held device: a dm snapshot sits on it ([sysfs holders stand-in]: no dm driver here).
    const held = new LoopRegistry({ holders: async () => ['dm-0'] });
    await held.release(image, 'sb-a');
    expect(await held.findByFile(image)).toMatchObject({ device });
    await new LoopRegistry().release(image, 'sb-a');
    expect(await ourLoops()).toEqual([]);
  });

  it('keys a base by its real path: a symlink to the image shares the device', async () => {
    const image = await sparseFile('base-real.img');
    const link = join(dir.path, 'base-link.img');
    await symlink(image, link);
    const loops = new LoopRegistry();
    const device = await loops.acquire(image, 'sb-a');
    expect(await loops.acquire(link, 'sb-b')).toBe(device);
    expect(await loops.references(link)).toBe(2);
  });

  it('makes the base really read-only: writing to the device fails', async () => {
    const image = await sparseFile('base-ro.img');
    const device = await new LoopRegistry().acquire(image, 'sb-a');
    const write = async (): Promise<void> => {
      const handle = await open(device, 'r+');
      try {
        await handle.write(Buffer.alloc(4096, 1), 0, 4096, 0);
      } finally {
        await handle.close();
      }
    };
    await expect(write()).rejects.toMatchObject({ code: expect.stringMatching(/^(EPERM|EROFS|EACCES)$/) });
    const dd = await execa('dd', ['if=/dev/zero', `of=${device}`, 'bs=4k', 'count=1'], { reject: false });
    expect(dd.exitCode).not.toBe(0);
  });

  it('attaches a CoW file read-write once, finds it again, and detaches it (twice is fine)', async () => {
    const cow = await sparseFile('sb-a.cow');
    const loops = new LoopRegistry();
    const device = await loops.attachRw(cow);
    expect(await loops.attachRw(cow)).toBe(device);
    expect(await new LoopRegistry().findByFile(cow)).toMatchObject({ device, readOnly: false });

    const handle = await open(device, 'r+');
    await handle.write(Buffer.alloc(4096, 7), 0, 4096, 0);
    await handle.close();
    await execa('sync');

    await loops.detach(device);
    await loops.detach(device);
    expect(await loops.findByFile(cow)).toBeUndefined();
    expect(await ourLoops()).toEqual([]);
  });

  it('finds nothing for a file that is not attached or does not exist', async () => {
    const loops = new LoopRegistry();
    expect(await loops.findByFile(await sparseFile('loose.img'))).toBeUndefined();
    expect(await loops.listByFile(join(dir.path, 'missing.img'))).toEqual([]);
  });
});
