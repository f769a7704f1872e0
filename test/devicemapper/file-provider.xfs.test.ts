import { randomBytes } from 'node:crypto';
import { access, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BaseImage } from '../../src/devicemapper/index.ts';
import { diskSpace, FileCowProvider } from '../../src/devicemapper/index.ts';
import { capturingLogger, readAt, sha256, writeAt, writeBaseImage } from './support/disk-io.ts';
import { mountScratchFs, type ScratchFs, tracesOf } from './support/scratch-fs.ts';

const MiB = 1024 * 1024;
const IMAGE_SIZE = 64 * MiB;
const MARK_AT = 8 * MiB;
const mark = randomBytes(MiB);

/** The loop devices `losetup -j` finds for a file. */
async function attachments(file: string): Promise<string[]> {
  const { stdout } = await execa('losetup', ['--noheadings', '--list', '--output', 'NAME', '-j', file]);
  return String(stdout).split('\n').filter(Boolean);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe('FileCowProvider on XFS with reflink (real loop devices, real mount)', () => {
  let fs: ScratchFs | undefined;
  let provider: FileCowProvider;
  let base: BaseImage;
  let baseHash: string;
  let usedBeforeCreates: number;
  const { logger, lines } = capturingLogger();

  beforeAll(async () => {
    fs = await mountScratchFs('xfs');
    expect(await tracesOf(fs.root)).toHaveLength(2); // the image's loop device and its mount
    const imagePath = join(fs.mountPoint, 'templates', 'base.img');
    await mkdir(join(fs.mountPoint, 'templates'));
    await writeBaseImage(imagePath, IMAGE_SIZE, { dense: true });
    base = { templateId: 'tpl-1', imagePath };
    baseHash = await sha256(imagePath);
    provider = new FileCowProvider({ dataDir: join(fs.mountPoint, 'data'), logger });
    usedBeforeCreates = await fs.usedBytes();
  });

  afterAll(async () => {
    if (fs === undefined) return;
    await provider?.sweep(new Set()).catch(() => undefined);
    await fs.cleanup();
    expect(await tracesOf(fs.root)).toEqual([]);
  });

  it('clones the base by reflink and attaches it on a loop device', async () => {
    expect(await provider.cloneMethod()).toBe('reflink');
    const disk = await provider.create('sb-a', base);
    expect(provider.lastCopyMethod).toBe('reflink');
    expect(disk.cowPath).toBe(join(fs!.mountPoint, 'data', 'disks', 'sb-a.cow'));
    expect(disk.devicePath).toMatch(/^\/dev\/loop\d+$/);
    expect((await stat(disk.devicePath)).isBlockDevice()).toBe(true);
    expect(await attachments(disk.cowPath)).toEqual([disk.devicePath]);
    const said = lines.find((line) => line.sandboxId === 'sb-a' && line.method === 'reflink');
    expect(said?.msg).toMatch(/by reflink/);
  });

  it('two sandboxes of one template share the unchanged blocks', async () => {
    const disk = await provider.create('sb-b', base);
    const grown = (await fs!.usedBytes()) - usedBeforeCreates;
    // Two full copies would take 128 MiB; reflinks take metadata only.
    expect(grown).toBeLessThan(8 * MiB);
    const { stdout } = await execa('filefrag', ['-v', disk.cowPath]);
    expect(String(stdout)).toMatch(/shared/);
  });

  it("writes through the sandbox's loop device change only that sandbox's file", async () => {
    const a = await provider.create('sb-a', base);
    const b = await provider.create('sb-b', base);
    await writeAt(a.devicePath, MARK_AT, mark);
    expect((await readAt(a.cowPath, MARK_AT, MiB)).equals(mark)).toBe(true);
    expect(await sha256(base.imagePath)).toBe(baseHash);
    expect(await sha256(b.cowPath)).toBe(baseHash);
    expect((await readAt(b.devicePath, MARK_AT, MiB)).equals(mark)).toBe(false);
  });

  it('reports usage as st_blocks x 512, apparent size apart', async () => {
    const cow = provider.layout.cowPath('sb-a');
    const stats = await stat(cow);
    expect(await provider.usage('sb-a')).toBe(stats.blocks * 512);
    expect(await diskSpace(cow)).toEqual({ usedBytes: stats.blocks * 512, apparentBytes: IMAGE_SIZE });
  });

  it('a repeated create is a no-op: same device, one attachment, nothing copied again', async () => {
    const first = await provider.create('sb-a', base);
    const again = await provider.create('sb-a', base);
    expect(again.devicePath).toBe(first.devicePath);
    expect(await attachments(first.cowPath)).toEqual([first.devicePath]);
    expect((await readAt(first.cowPath, MARK_AT, MiB)).equals(mark)).toBe(true);
  });

  it('copyCow and createFromCow carry the written data', async () => {
    const dest = join(fs!.mountPoint, 'snapshots', 'snap-1', 'disk.cow');
    const copy = await provider.copyCow('sb-a', dest);
    expect(provider.lastCopyMethod).toBe('reflink');
    expect(copy.path).toBe(dest);
    expect(copy.usedBytes).toBe((await stat(dest)).blocks * 512);
    expect((await readAt(dest, MARK_AT, MiB)).equals(mark)).toBe(true);

    const c = await provider.createFromCow('sb-c', base, dest);
    expect(c.devicePath).not.toBe((await provider.create('sb-a', base)).devicePath);
    expect((await readAt(c.devicePath, MARK_AT, MiB)).equals(mark)).toBe(true);
  });

  it('flatten writes the whole disk as a new image', async () => {
    const dest = join(fs!.mountPoint, 'templates', 'flat.img');
    const flat = await provider.flatten('sb-a', dest);
    expect(await sha256(flat.path)).toBe(await sha256(provider.layout.cowPath('sb-a')));
    expect(flat.usedBytes).toBe((await stat(dest)).blocks * 512);
  });

  it('restore re-attaches an existing CoW without copying, once', async () => {
    const before = await provider.create('sb-c', base);
    await execa('losetup', ['-d', before.devicePath]); // as after a host reboot
    expect(await attachments(before.cowPath)).toEqual([]);
    const restored = await provider.restore('sb-c', base);
    expect((await readAt(restored.devicePath, MARK_AT, MiB)).equals(mark)).toBe(true);
    expect((await provider.restore('sb-c', base)).devicePath).toBe(restored.devicePath);
    expect(await attachments(before.cowPath)).toEqual([restored.devicePath]);
    await expect(provider.restore('sb-never', base)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('a copy cut short by a crash leaves only a temp file, which the retry replaces', async () => {
    const temp = join(provider.layout.disksDir, 'sb-d.cow.deadbeef.tmp');
    await writeFile(temp, randomBytes(4096));
    const disk = await provider.create('sb-d', base);
    expect(await exists(temp)).toBe(false);
    expect(await sha256(disk.cowPath)).toBe(baseHash);
  });

  it('remove leaves no loop device and no file, and repeats quietly', async () => {
    const b = await provider.create('sb-b', base);
    await provider.remove('sb-b', base);
    expect(await attachments(b.cowPath)).toEqual([]);
    expect(await exists(b.cowPath)).toBe(false);
    await provider.remove('sb-b', base);
    await expect(provider.usage('sb-b')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('sweep removes unowned disks, their loop devices and temp files, and keeps owned ones', async () => {
    const a = await provider.create('sb-a', base);
    const c = await provider.restore('sb-c', base);
    const d = await provider.create('sb-d', base);
    const stray = join(provider.layout.disksDir, 'sb-x.cow.0badf00d.tmp');
    await writeFile(stray, 'half a copy');
    // A disk whose file was deleted while still attached (a crash inside remove).
    const ghost = join(provider.layout.disksDir, 'sb-y.cow');
    await writeFile(ghost, Buffer.alloc(MiB));
    const { stdout: ghostDevice } = await execa('losetup', ['--find', '--show', ghost]);
    await execa('rm', [ghost]);

    const report = await provider.sweep(new Set(['sb-a']));
    expect(report.removed).toEqual(
      [c.devicePath, c.cowPath, d.devicePath, d.cowPath, stray, String(ghostDevice).trim()].sort(),
    );
    expect(await attachments(a.cowPath)).toEqual([a.devicePath]);
    expect(await attachments(c.cowPath)).toEqual([]);
    expect(await exists(c.cowPath)).toBe(false);
    expect((await execa('losetup', ['--list', '--noheadings'])).stdout).not.toContain('sb-y.cow');
    expect((await provider.sweep(new Set(['sb-a']))).removed).toEqual([]);
  });

  it('rejects ids that are not safe file names', async () => {
    await expect(provider.create('../etc', base)).rejects.toMatchObject({ code: 'E_VALIDATION' });
    await expect(
      provider.create('sb-z', { templateId: 'tpl-1', imagePath: 'relative.img' }),
    ).rejects.toMatchObject({
      code: 'E_VALIDATION',
    });
  });
});
