import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceBusyError } from '../../src/devicemapper/busy-retry.ts';
import { cowBytesFor, type DeviceMapperProvider, DmDevices } from '../../src/devicemapper/dm/index.ts';
import type { BaseImage } from '../../src/devicemapper/root-disk-provider.ts';
import { CommandError, NotFoundError, ValidationError } from '../../src/errors/index.ts';
import { BASE_BYTES, type DmFixture, makeDmFixture } from '../support/dm-fixture.ts';
import type { DmHostModel } from '../support/dm-host-model.ts';
import {
  DM_INFO_ABSENT,
  DM_NO_DRIVER,
  dmBusy,
  dmList,
  dmRemoveAbsent,
  loopAttachBusy,
} from '../support/dm-outputs.ts';
import { RecordingRunner } from '../support/recording-runner.ts';

// This machine has no device-mapper driver: the provider runs against DmHostModel, which
// answers losetup/dmsetup/blockdev as the real tools word it, while the CoW files, copies
// and sizes are real files in a temp dir. The exact argv of each operation is asserted.
// Teardown (remove, sweep, usage) is in dm-provider.teardown.recorded.test.ts.

let fx: DmFixture;
let root: string;
let base: BaseImage;
let host: DmHostModel;
let provider: DeviceMapperProvider;
const cow = (id: string): string => fx.cow(id);
const table = (baseLoop: string, cowLoop: string): string => fx.table(baseLoop, cowLoop);

beforeEach(async () => {
  fx = await makeDmFixture();
  ({ root, base, host, provider } = fx);
});

afterEach(async () => {
  await fx.remove();
});

describe('DeviceMapperProvider create [recorded commands]', () => {
  it('attaches the base read-only, sizes and attaches a sparse CoW, creates the snapshot', async () => {
    const disk = await provider.create('sb-1', base);
    expect(host.runner.argvs()).toEqual([
      ['losetup', '--json', '--list', '--associated', base.imagePath],
      ['losetup', '--read-only', '--find', '--show', base.imagePath],
      ['dmsetup', 'info', 'hangar-sb-1'],
      ['blockdev', '--getsize64', '/dev/loop0'],
      ['losetup', '--json', '--list', '--associated', cow('sb-1')],
      ['losetup', '--find', '--show', cow('sb-1')],
      ['dmsetup', 'create', 'hangar-sb-1', '--table', table('/dev/loop0', '/dev/loop1')],
    ]);
    expect(disk).toEqual({
      sandboxId: 'sb-1',
      devicePath: '/dev/mapper/hangar-sb-1',
      cowPath: cow('sb-1'),
      usedBytes: 0,
    });
    const cowStat = await stat(cow('sb-1'));
    expect(cowStat.size).toBe(cowBytesFor(BASE_BYTES));
    expect(cowStat.blocks).toBe(0);
  });

  it('shares one base loop between two sandboxes of a template', async () => {
    await provider.create('sb-1', base);
    host.runner.clear();
    await provider.create('sb-2', base);
    expect(host.runner.argvs()).toEqual([
      ['losetup', '--json', '--list', '--associated', base.imagePath],
      ['dmsetup', 'info', 'hangar-sb-2'],
      ['blockdev', '--getsize64', '/dev/loop0'],
      ['losetup', '--json', '--list', '--associated', cow('sb-2')],
      ['losetup', '--find', '--show', cow('sb-2')],
      ['dmsetup', 'create', 'hangar-sb-2', '--table', table('/dev/loop0', '/dev/loop2')],
    ]);
    expect([...host.loops.values()].filter((loop) => loop.backFile === base.imagePath)).toHaveLength(1);
  });

  it('is a no-op when the device already exists', async () => {
    await provider.create('sb-1', base);
    host.runner.clear();
    await provider.create('sb-1', base);
    expect(host.runner.argvs()).toEqual([
      ['losetup', '--json', '--list', '--associated', base.imagePath],
      ['dmsetup', 'info', 'hangar-sb-1'],
    ]);
  });

  it('completes a crashed create (CoW attached, no device) without a second attach', async () => {
    const baseLoop = host.attach(base.imagePath, true);
    await provider.create('sb-1', base); // device made: now simulate the crash state
    host.devices.clear();
    const cowLoop = [...host.loops].find(([, loop]) => loop.backFile === cow('sb-1'))?.[0];
    host.runner.clear();

    await provider.create('sb-1', base);
    expect(host.runner.argvs()).toEqual([
      ['losetup', '--json', '--list', '--associated', base.imagePath],
      ['dmsetup', 'info', 'hangar-sb-1'],
      ['blockdev', '--getsize64', baseLoop],
      ['losetup', '--json', '--list', '--associated', cow('sb-1')],
      ['dmsetup', 'create', 'hangar-sb-1', '--table', table(baseLoop, cowLoop ?? '?')],
    ]);
    expect(host.loops.size).toBe(2);
  });

  it('replaces a half-made device (no table) and resumes a suspended one', async () => {
    host.addDevice('hangar-sb-1', { table: '', live: false });
    await provider.create('sb-1', base);
    expect(host.runner.argvs()).toContainEqual(['dmsetup', 'remove', 'hangar-sb-1']);
    expect(host.devices.get('hangar-sb-1')?.live).toBe(true);

    host.devices.get('hangar-sb-1')!.state = 'SUSPENDED';
    host.runner.clear();
    await provider.create('sb-1', base);
    expect(host.runner.argvs().slice(-1)).toEqual([['dmsetup', 'resume', 'hangar-sb-1']]);
  });

  it('converges when create answers busy because a concurrent retry made the device', async () => {
    const made = { table: table('/dev/loop0', '/dev/loop1') };
    host.fail(['dmsetup', 'create'], dmBusy('create', 'hangar-sb-1'), 1, () => {
      host.addDevice('hangar-sb-1', made);
    });
    await provider.create('sb-1', base);
    expect(host.runner.argvs().slice(-2)).toEqual([
      ['dmsetup', 'create', 'hangar-sb-1', '--table', made.table],
      ['dmsetup', 'info', 'hangar-sb-1'],
    ]);
  });

  it('retries a create that answered busy while the name was still free', async () => {
    host.fail(['dmsetup', 'create'], dmBusy('create', 'hangar-sb-1'), 2);
    await provider.create('sb-1', base);
    expect(host.runner.argvs().filter((argv) => argv[1] === 'create')).toHaveLength(3);
    expect(host.devices.get('hangar-sb-1')?.live).toBe(true);
  });

  it('reports a loop attach that stays busy as DeviceBusyError', async () => {
    host.fail(['losetup', '--read-only', '--find'], loopAttachBusy(base.imagePath), 3);
    await expect(provider.create('sb-1', base)).rejects.toBeInstanceOf(DeviceBusyError);
    expect(host.loops.size).toBe(0);
  });

  it('checks the id before any command, and does not read a missing driver as "absent"', async () => {
    await expect(provider.create('../etc', base)).rejects.toBeInstanceOf(ValidationError);
    expect(host.runner.calls).toEqual([]);
    host.fail(['dmsetup', 'info'], DM_NO_DRIVER);
    const error = await provider.create('sb-1', base).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).stderr).toMatch(/control: open failed/);
    expect(host.devices.size).toBe(0);
  });
});

describe('DmDevices [recorded commands]', () => {
  it('reads an absent device however libdm words it (stderr, or stdout with exit 0 or 1)', async () => {
    const runner = new RecordingRunner()
      .expect(['dmsetup', 'info', 'hangar-x'], DM_INFO_ABSENT)
      .expect(['dmsetup', 'info', 'hangar-x'], {
        exitCode: 1,
        stdout: 'Device does not exist.',
        stderr: 'Command failed.',
      })
      .expect(['dmsetup', 'info', 'hangar-x'], { stdout: 'Device does not exist.' })
      .expect(['dmsetup', 'remove', 'hangar-x'], dmRemoveAbsent('hangar-x'))
      .expect(['dmsetup', 'remove', 'hangar-x'], {
        exitCode: 1,
        stderr: 'Device hangar-x not found\nCommand failed.',
      });
    const dm = new DmDevices(runner);
    expect(await dm.info('hangar-x')).toBeUndefined();
    expect(await dm.info('hangar-x')).toBeUndefined();
    expect(await dm.info('hangar-x')).toBeUndefined();
    expect(await dm.remove('hangar-x')).toBe(false);
    expect(await dm.remove('hangar-x')).toBe(false);
    runner.assertScriptDone();
  });

  it('retries a busy remove with the exact argv each time, then reports it removed', async () => {
    const runner = new RecordingRunner()
      .expect(['dmsetup', 'remove', 'hangar-x'], dmBusy('remove', 'hangar-x'))
      .expect(['dmsetup', 'remove', 'hangar-x'], dmBusy('remove', 'hangar-x'))
      .expect(['dmsetup', 'remove', 'hangar-x']);
    expect(await new DmDevices(runner, { attempts: 5, delayMs: 1 }).remove('hangar-x')).toBe(true);
    runner.assertScriptDone();
  });

  it('lists only what dmsetup ls prints, and nothing for "No devices found"', async () => {
    const runner = new RecordingRunner()
      .expect(['dmsetup', 'ls', '--target', 'snapshot'], { stdout: dmList(['hangar-a', 'hangar-b']) })
      .expect(['dmsetup', 'ls', '--target', 'snapshot'], { stdout: dmList([]) });
    const dm = new DmDevices(runner);
    expect(await dm.listSnapshots()).toEqual(['hangar-a', 'hangar-b']);
    expect(await dm.listSnapshots()).toEqual([]);
  });
});

describe('DeviceMapperProvider restore and createFromCow [recorded commands]', () => {
  it('restore removes a stale device of the same name, then rebuilds it over the existing CoW', async () => {
    await provider.create('sb-1', base);
    await writeFile(cow('sb-1'), 'exceptions', { flag: 'r+' });
    host.runner.clear();
    await provider.restore('sb-1', base);
    expect(host.runner.argvs()).toEqual([
      ['losetup', '--json', '--list', '--associated', base.imagePath],
      ['dmsetup', 'remove', 'hangar-sb-1'],
      ['blockdev', '--getsize64', '/dev/loop0'],
      ['losetup', '--json', '--list', '--associated', cow('sb-1')],
      ['dmsetup', 'create', 'hangar-sb-1', '--table', table('/dev/loop0', '/dev/loop1')],
    ]);
    expect((await readFile(cow('sb-1'))).subarray(0, 10).toString()).toBe('exceptions');
  });

  it('restore after a restart (nothing attached) attaches both loops; no CoW is NotFound', async () => {
    await provider.create('sb-1', base);
    host.loops.clear();
    host.devices.clear();
    host.runner.clear();
    await provider.restore('sb-1', base);
    expect(host.runner.argvs()).toEqual([
      ['losetup', '--json', '--list', '--associated', base.imagePath],
      ['losetup', '--read-only', '--find', '--show', base.imagePath],
      ['dmsetup', 'remove', 'hangar-sb-1'],
      ['blockdev', '--getsize64', '/dev/loop0'],
      ['losetup', '--json', '--list', '--associated', cow('sb-1')],
      ['losetup', '--find', '--show', cow('sb-1')],
      ['dmsetup', 'create', 'hangar-sb-1', '--table', table('/dev/loop0', '/dev/loop1')],
    ]);
    host.runner.clear();
    await expect(provider.restore('sb-9', base)).rejects.toBeInstanceOf(NotFoundError);
    expect(host.runner.calls).toEqual([]);
  });

  it('createFromCow copies the source sparse into place, then attaches it and creates the snapshot', async () => {
    const source = join(root, 'snap.cow');
    await writeFile(source, 'snapshot-exceptions');
    await truncate(source, cowBytesFor(BASE_BYTES));
    await provider.createFromCow('sb-2', base, source);
    expect(host.runner.argvs()).toEqual([
      ['losetup', '--json', '--list', '--associated', base.imagePath],
      ['losetup', '--read-only', '--find', '--show', base.imagePath],
      ['dmsetup', 'info', 'hangar-sb-2'],
      ['cp', '--sparse=always', source, `${cow('sb-2')}.partial`],
      ['blockdev', '--getsize64', '/dev/loop0'],
      ['losetup', '--json', '--list', '--associated', cow('sb-2')],
      ['losetup', '--find', '--show', cow('sb-2')],
      ['dmsetup', 'create', 'hangar-sb-2', '--table', table('/dev/loop0', '/dev/loop1')],
    ]);
    expect((await readFile(cow('sb-2'))).subarray(0, 19).toString()).toBe('snapshot-exceptions');
    await expect(provider.createFromCow('sb-3', base, join(root, 'none.cow'))).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});

describe('DeviceMapperProvider copies [recorded commands]', () => {
  it('copyCow suspends the device around a sparse copy of the CoW file', async () => {
    await provider.create('sb-1', base);
    await writeFile(cow('sb-1'), 'written', { flag: 'r+' });
    host.runner.clear();
    const dest = join(root, 'snaps', 's1', 'disk.cow');
    const copy = await provider.copyCow('sb-1', dest);
    expect(host.runner.argvs()).toEqual([
      ['dmsetup', 'info', 'hangar-sb-1'],
      ['dmsetup', 'suspend', 'hangar-sb-1'],
      ['cp', '--sparse=always', cow('sb-1'), `${dest}.partial`],
      ['dmsetup', 'resume', 'hangar-sb-1'],
    ]);
    expect(copy).toEqual({ path: dest, usedBytes: (await stat(dest)).blocks * 512 });
    expect((await stat(dest)).size).toBe(cowBytesFor(BASE_BYTES));
    expect(host.devices.get('hangar-sb-1')?.state).toBe('ACTIVE');
  });

  it('copyCow resumes the device even when the copy fails, and leaves no partial file', async () => {
    await provider.create('sb-1', base);
    host.fail(['cp'], { exitCode: 1, stderr: "cp: error writing 'x': No space left on device" });
    host.runner.clear();
    await expect(provider.copyCow('sb-1', join(root, 'out.cow'))).rejects.toBeInstanceOf(CommandError);
    expect(host.runner.argvs().at(-1)).toEqual(['dmsetup', 'resume', 'hangar-sb-1']);
    expect(host.devices.get('hangar-sb-1')?.state).toBe('ACTIVE');
    await expect(stat(join(root, 'out.cow.partial'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('flatten copies the snapshot device with a sparse dd into place', async () => {
    await provider.create('sb-1', base);
    host.runner.clear();
    const dest = join(root, 'templates', 'new.img');
    const image = await provider.flatten('sb-1', dest);
    expect(host.runner.argvs()).toEqual([
      ['dmsetup', 'info', 'hangar-sb-1'],
      ['dd', 'if=/dev/mapper/hangar-sb-1', `of=${dest}.partial`, 'bs=1M', 'conv=sparse,fsync', 'status=none'],
    ]);
    expect(image.path).toBe(dest);
    expect((await stat(dest)).size).toBe(BASE_BYTES);
    await expect(provider.flatten('sb-9', dest)).rejects.toBeInstanceOf(NotFoundError);
  });
});
