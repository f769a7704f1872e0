import { open, readFile, rm, rmdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceMapperProvider, DmDevices, deviceMapperAvailable } from '../../src/devicemapper/dm/index.ts';
import type { BaseImage } from '../../src/devicemapper/root-disk-provider.ts';
import { CommandError } from '../../src/errors/index.ts';
import { ExecaRunner } from '../../src/exec/command-runner.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

// The device-mapper provider against the real kernel: real loop devices, real dmsetup, real
// snapshots. It needs the dm driver (/dev/mapper/control); where that is missing the suite
// is skipped and says why, and the recorded-commands suite covers the argv instead.

const available = await deviceMapperAvailable();
const SKIP_REASON = 'skipped: no usable /dev/mapper/control on this machine (device-mapper driver absent)';
if (!available) console.log(`dm-provider.integration: ${SKIP_REASON}`);

const BASE_BYTES = 16 * 1024 * 1024;
const BLOCK = 4096;
const run = `${process.pid}`;
const ids = { a: `it${run}-a`, b: `it${run}-b`, c: `it${run}-c` };

async function readBlock(path: string, offset = 0): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(BLOCK);
    await handle.read(buffer, 0, BLOCK, offset);
    return buffer.toString('utf8').replace(/\0+$/, '');
  } finally {
    await handle.close();
  }
}

async function writeBlock(path: string, text: string, offset = 0): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const buffer = Buffer.alloc(BLOCK);
    buffer.write(text);
    await handle.write(buffer, 0, BLOCK, offset);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Our dm devices still present. */
async function ourDevices(): Promise<string[]> {
  const { stdout } = await execa('dmsetup', ['ls', '--target', 'snapshot'], { reject: false });
  return stdout
    .split('\n')
    .map((line) => line.split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(`hangar-it${run}-`))
    .sort();
}

describe.skipIf(!available)(
  `DeviceMapperProvider [real kernel]${available ? '' : ` (${SKIP_REASON})`}`,
  () => {
    let dir: TempDir;
    let base: BaseImage;
    let provider: DeviceMapperProvider;

    async function ourLoops(): Promise<string[]> {
      const { stdout } = await execa('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
      return stdout.split('\n').filter((line) => line.includes(dir.path));
    }

    beforeAll(async () => {
      dir = await makeTempDir('hangar-dm-it-');
      base = { templateId: 'tpl', imagePath: join(dir.path, 'base.img') };
      await writeFile(base.imagePath, '');
      await truncate(base.imagePath, BASE_BYTES);
      await writeBlock(base.imagePath, 'BASE-BLOCK-0');
      provider = new DeviceMapperProvider({ dataDir: join(dir.path, 'disks') });
    });

    afterAll(async () => {
      for (const name of await ourDevices()) await execa('dmsetup', ['remove', name], { reject: false });
      for (const line of await ourLoops()) {
        const device = line.trim().split(/\s+/)[0];
        if (device !== undefined) await execa('losetup', ['-d', device], { reject: false });
      }
      await dir.remove();
    });

    it('creates two sandboxes over one base; a write through one leaves the other and the base alone', async () => {
      const a = await provider.create(ids.a, base);
      const b = await provider.create(ids.b, base);
      expect(await provider.create(ids.a, base)).toMatchObject({ devicePath: a.devicePath });
      expect((await ourLoops()).filter((line) => line.includes('base.img'))).toHaveLength(1);

      await writeBlock(a.devicePath, 'CHANGED-IN-A');
      expect(await readBlock(a.devicePath)).toBe('CHANGED-IN-A');
      expect(await readBlock(b.devicePath)).toBe('BASE-BLOCK-0');
      expect(await readBlock(base.imagePath)).toBe('BASE-BLOCK-0');
      expect(await provider.usage(ids.a)).toBeGreaterThan(0);
      expect(await provider.status(ids.a)).toMatchObject({ state: 'valid' });
    });

    it('copies the CoW consistently, and a sandbox made from the copy sees the change', async () => {
      const copy = await provider.copyCow(ids.a, join(dir.path, 'snap', 'disk.cow'));
      expect(copy.usedBytes).toBeGreaterThan(0);
      const c = await provider.createFromCow(ids.c, base, copy.path);
      expect(await readBlock(c.devicePath)).toBe('CHANGED-IN-A');
      expect(await readBlock(`/dev/mapper/hangar-${ids.b}`)).toBe('BASE-BLOCK-0');
    });

    it('flattens a sandbox into a new sparse base image', async () => {
      const image = await provider.flatten(ids.a, join(dir.path, 'flat.img'));
      expect(await readBlock(image.path)).toBe('CHANGED-IN-A');
      expect((await readFile(image.path)).length).toBe(BASE_BYTES);
      expect(image.usedBytes).toBeLessThan(BASE_BYTES);
    });

    it('restores a sandbox over its existing CoW, replacing the stale device', async () => {
      const a = await provider.restore(ids.a, base);
      expect(await readBlock(a.devicePath)).toBe('CHANGED-IN-A');
    });

    it('sweeps a sandbox nobody owns and removes the rest; nothing is left', async () => {
      const everyone = (await execa('dmsetup', ['ls', '--target', 'snapshot'])).stdout
        .split('\n')
        .map((line) => line.split(/\s+/)[0] ?? '')
        .filter((name) => name.startsWith('hangar-'))
        .map((name) => name.slice('hangar-'.length));
      // Other runs' devices stay owned: this sweep may only take ours.
      const owned = new Set(everyone.filter((id) => id !== ids.c));
      expect(await provider.sweep(owned)).toEqual({ removed: [ids.c] });

      await provider.remove(ids.a, base);
      await provider.remove(ids.b, base);
      await provider.remove(ids.b, base);
      expect(await ourDevices()).toEqual([]);
      expect(await ourLoops()).toEqual([]);
    });
  },
);

describe.skipIf(available)('dmsetup without the device-mapper driver (real dmsetup)', () => {
  // dmsetup mknods /dev/mapper/control when it is missing; remove what this test made so
  // the host does not look like it has device-mapper afterwards.
  let hadNode = true;
  let hadDir = true;

  beforeAll(async () => {
    hadDir = await stat('/dev/mapper').then(
      () => true,
      () => false,
    );
    hadNode = await stat('/dev/mapper/control').then(
      () => true,
      () => false,
    );
  });

  afterAll(async () => {
    if (!hadNode) await rm('/dev/mapper/control', { force: true });
    if (!hadDir) await rmdir('/dev/mapper').catch(() => undefined);
  });

  it('reports the missing driver as a command error, never as "device absent"', async () => {
    const error = await new DmDevices(new ExecaRunner()).info('hangar-probe').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).stderr).toMatch(/\/dev\/mapper\/control: open failed/);
    // The node dmsetup leaves behind does not fool the detection.
    expect(await deviceMapperAvailable()).toBe(false);
  });
});
