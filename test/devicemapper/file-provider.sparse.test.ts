import { randomBytes } from 'node:crypto';
import { access, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BaseImage } from '../../src/devicemapper/index.ts';
import { FileCowProvider } from '../../src/devicemapper/index.ts';
import { capturingLogger, readAt, sha256, writeAt, writeBaseImage } from './support/disk-io.ts';
import { mountScratchFs, type ScratchFs, tracesOf } from './support/scratch-fs.ts';

const MiB = 1024 * 1024;
const IMAGE_SIZE = 64 * MiB;
const REGIONS = [0, 20 * MiB, 50 * MiB];

describe('FileCowProvider on ext4 (no reflink): falls back to sparse copies and says so', () => {
  let fs: ScratchFs | undefined;
  let provider: FileCowProvider;
  let base: BaseImage;
  let baseHash: string;
  const { logger, lines } = capturingLogger();

  beforeAll(async () => {
    fs = await mountScratchFs('ext4', 256 * MiB);
    const imagePath = join(fs.mountPoint, 'templates', 'base.img');
    await mkdir(join(fs.mountPoint, 'templates'));
    // Holes between three data regions: a sparse copy must keep the holes.
    await writeBaseImage(imagePath, IMAGE_SIZE, { dense: false, regions: REGIONS });
    base = { templateId: 'tpl-1', imagePath };
    baseHash = await sha256(imagePath);
    provider = new FileCowProvider({ dataDir: join(fs.mountPoint, 'data'), logger });
  });

  afterAll(async () => {
    if (fs === undefined) return;
    await provider?.sweep(new Set()).catch(() => undefined);
    await fs.cleanup();
    expect(await tracesOf(fs.root)).toEqual([]);
  });

  it('probes the file system once and logs that disks will be sparse copies', async () => {
    expect(await provider.cloneMethod()).toBe('sparse-copy');
    expect(await provider.cloneMethod()).toBe('sparse-copy');
    const probes = lines.filter((line) => line.dataDir === provider.layout.dataDir);
    expect(probes).toHaveLength(1);
    expect(probes[0]?.msg).toMatch(/sparse copies: this file system cannot reflink/);
    expect(String(probes[0]?.reflinkRefused)).toMatch(/Operation not supported/);
  });

  it('creates a sparse copy on a loop device and reports the method', async () => {
    const disk = await provider.create('sb-a', base);
    expect(provider.lastCopyMethod).toBe('sparse-copy');
    expect(disk.devicePath).toMatch(/^\/dev\/loop\d+$/);
    expect(await sha256(disk.cowPath)).toBe(baseHash);
    // Only the three 1 MiB regions are allocated, not the 64 MiB the file claims.
    expect(disk.usedBytes).toBe((await stat(disk.cowPath)).blocks * 512);
    expect(disk.usedBytes).toBeLessThan(8 * MiB);
    const said = lines.find((line) => line.sandboxId === 'sb-a' && line.method === 'sparse-copy');
    expect(said?.msg).toMatch(/by sparse copy \(no reflink\)/);
  });

  it('writes through the loop device leave the base untouched, and a copy carries them', async () => {
    const disk = await provider.create('sb-a', base);
    const mark = randomBytes(MiB);
    await writeAt(disk.devicePath, 30 * MiB, mark);
    expect(await sha256(base.imagePath)).toBe(baseHash);
    const dest = join(fs!.mountPoint, 'snapshots', 'snap-1', 'disk.cow');
    await provider.copyCow('sb-a', dest);
    expect(provider.lastCopyMethod).toBe('sparse-copy');
    const b = await provider.createFromCow('sb-b', base, dest);
    expect((await readAt(b.devicePath, 30 * MiB, MiB)).equals(mark)).toBe(true);
  });

  it('remove leaves no loop device and no file', async () => {
    for (const id of ['sb-a', 'sb-b']) {
      const cow = provider.layout.cowPath(id);
      await provider.remove(id, base);
      const { stdout } = await execa('losetup', ['--noheadings', '--list', '-j', cow]);
      expect(String(stdout)).toBe('');
      await expect(access(cow)).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });
});
