import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceBusyError } from '../../src/devicemapper/busy-retry.ts';
import { cowBytesFor, type DeviceMapperProvider } from '../../src/devicemapper/dm/index.ts';
import type { BaseImage } from '../../src/devicemapper/root-disk-provider.ts';
import { ErrorCode, NotFoundError } from '../../src/errors/index.ts';
import { BASE_BYTES, type DmFixture, makeDmFixture } from '../support/dm-fixture.ts';
import type { DmHostModel } from '../support/dm-host-model.ts';
import { dmBusy, loopDetachBusy } from '../support/dm-outputs.ts';

// remove, usage and sweep of the device-mapper provider on DmHostModel (no dm driver on this
// machine: losetup/dmsetup answer with the real tools' wording; files are real).

let fx: DmFixture;
let base: BaseImage;
let dataDir: string;
let host: DmHostModel;
let provider: DeviceMapperProvider;
const cow = (id: string): string => fx.cow(id);
const table = (baseLoop: string, cowLoop: string): string => fx.table(baseLoop, cowLoop);
const restartedProvider = (): DeviceMapperProvider => fx.restartedProvider();

beforeEach(async () => {
  fx = await makeDmFixture();
  ({ base, dataDir, host, provider } = fx);
});

afterEach(async () => {
  await fx.remove();
});

describe('DeviceMapperProvider remove [recorded commands]', () => {
  it('removes the device, detaches the CoW loop, releases the base (last user detaches), deletes the CoW', async () => {
    await provider.create('sb-1', base);
    host.runner.clear();
    await provider.remove('sb-1', base);
    expect(host.runner.argvs()).toEqual([
      ['dmsetup', 'remove', 'hangar-sb-1'],
      ['losetup', '--json', '--list', '--associated', cow('sb-1')],
      ['losetup', '-d', '/dev/loop1'],
      ['losetup', '--json', '--list', '--associated', base.imagePath],
      ['losetup', '-d', '/dev/loop0'],
    ]);
    expect(host.loops.size).toBe(0);
    expect(host.devices.size).toBe(0);
    await expect(stat(cow('sb-1'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('keeps the base loop while another sandbox uses it', async () => {
    await provider.create('sb-1', base);
    await provider.create('sb-2', base);
    host.runner.clear();
    await provider.remove('sb-1', base);
    expect(host.runner.argvs()).toEqual([
      ['dmsetup', 'remove', 'hangar-sb-1'],
      ['losetup', '--json', '--list', '--associated', cow('sb-1')],
      ['losetup', '-d', '/dev/loop1'],
    ]);
    expect([...host.loops.values()].map((loop) => loop.backFile).sort()).toEqual(
      [base.imagePath, cow('sb-2')].sort(),
    );
  });

  it('retries a busy dmsetup remove and a busy losetup -d, then succeeds', async () => {
    await provider.create('sb-1', base);
    host.fail(['dmsetup', 'remove'], dmBusy('remove', 'hangar-sb-1'), 2);
    host.fail(['losetup', '-d', '/dev/loop1'], loopDetachBusy('/dev/loop1'), 1);
    host.runner.clear();
    await provider.remove('sb-1', base);
    const argvs = host.runner.argvs();
    expect(argvs.filter((argv) => argv[1] === 'remove')).toHaveLength(3);
    expect(argvs.filter((argv) => argv[2] === '/dev/loop1')).toHaveLength(2);
    expect(host.loops.size).toBe(0);
    expect(host.devices.size).toBe(0);
  });

  it('gives up on a device busy forever with a typed error after the configured tries', async () => {
    await provider.create('sb-1', base);
    host.devices.get('hangar-sb-1')!.openCount = 1; // a VMM still holds it
    const error = await provider.remove('sb-1', base).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceBusyError);
    expect(error).toMatchObject({ code: ErrorCode.Command, attempts: 3 });
    expect(host.runner.argvs().filter((argv) => argv[1] === 'remove')).toHaveLength(3);
    // Nothing under it was torn down: the CoW loop, the base and the file are all still there.
    expect(host.loops.size).toBe(2);
    expect((await stat(cow('sb-1'))).isFile()).toBe(true);
  });

  it('tolerates every piece being gone already (a repeated or crashed remove)', async () => {
    await provider.create('sb-1', base);
    await provider.remove('sb-1', base);
    host.runner.clear();
    await provider.remove('sb-1', base);
    expect(host.runner.argvs()).toEqual([
      ['dmsetup', 'remove', 'hangar-sb-1'],
      ['losetup', '--json', '--list', '--associated', cow('sb-1')],
      ['losetup', '--json', '--list', '--associated', base.imagePath],
    ]);
  });

  it('after a restart, a remove keeps a base loop another dm device holds open', async () => {
    await provider.create('sb-1', base);
    await provider.create('sb-2', base);
    await restartedProvider().remove('sb-1', base);
    expect([...host.loops.values()].some((loop) => loop.backFile === base.imagePath)).toBe(true);
    await restartedProvider().remove('sb-2', base);
    expect(host.loops.size).toBe(0);
  });
});

describe('DeviceMapperProvider usage and sweep [recorded commands]', () => {
  it('usage is blocks really used by the CoW, not its apparent size', async () => {
    await provider.create('sb-1', base);
    expect(await provider.usage('sb-1')).toBe(0);
    await writeFile(cow('sb-1'), Buffer.alloc(64 * 1024, 1), { flag: 'r+' });
    const used = await provider.usage('sb-1');
    expect(used).toBe((await stat(cow('sb-1'))).blocks * 512);
    expect(used).toBeGreaterThanOrEqual(64 * 1024);
    expect(used).toBeLessThan(cowBytesFor(BASE_BYTES));
    await expect(provider.usage('sb-9')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('sweep removes unowned hangar-* snapshots and stray CoW files, and nothing else', async () => {
    await provider.create('sb-keep', base);
    await provider.create('sb-gone', base);
    host.addDevice('other-x', { table: table('/dev/loop0', '/dev/loop9') });
    await writeFile(cow('sb-loose'), '');
    await writeFile(join(dataDir, 'sb-half.cow.partial'), '');
    host.runner.clear();

    const report = await restartedProvider().sweep(new Set(['sb-keep']));

    expect(report).toEqual({ removed: ['sb-gone', 'sb-half', 'sb-loose'] });
    // The base loop is held (by sb-keep's snapshot): read, kept, never detached.
    expect(host.runner.argvs()).toEqual([
      ['dmsetup', 'ls', '--target', 'snapshot'],
      ['losetup', '--json', '--list', '--output', 'NAME,MAJ:MIN,BACK-FILE,RO,AUTOCLEAR,OFFSET,SIZELIMIT'],
      ['dmsetup', 'table', 'hangar-sb-gone'],
      ['dmsetup', 'remove', 'hangar-sb-gone'],
      ['losetup', '-d', '/dev/loop2'],
      ['losetup', '--json', '--list', '--associated', cow('sb-gone')],
      ['losetup', '--json', '--list', '--associated', cow('sb-half')],
      ['losetup', '--json', '--list', '--associated', cow('sb-loose')],
    ]);
    expect([...host.devices.keys()].sort()).toEqual(['hangar-sb-keep', 'other-x']);
    expect([...host.loops.values()].map((loop) => loop.backFile).sort()).toEqual(
      [base.imagePath, cow('sb-keep')].sort(),
    );
    await expect(stat(cow('sb-gone'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(cow('sb-loose'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await stat(cow('sb-keep'))).isFile()).toBe(true);
  });

  it("sweep drops the swept sandbox's base reference, so the last remove still detaches the base", async () => {
    await provider.create('sb-a', base);
    await provider.create('sb-b', base);
    expect(await provider.sweep(new Set(['sb-b']))).toEqual({ removed: ['sb-a'] });
    expect([...host.loops.values()].some((loop) => loop.backFile === base.imagePath)).toBe(true);
    await provider.remove('sb-b', base);
    expect(host.loops.size).toBe(0);
  });

  it('sweep detaches the base loop once no snapshot holds it, and skips a device busy forever', async () => {
    await provider.create('sb-a', base);
    await provider.create('sb-b', base);
    host.devices.get('hangar-sb-b')!.openCount = 1; // a stale VMM still holds it
    expect(await restartedProvider().sweep(new Set())).toEqual({ removed: ['sb-a'] });
    expect(host.devices.has('hangar-sb-b')).toBe(true);
    expect((await stat(cow('sb-b'))).isFile()).toBe(true);
    expect([...host.loops.values()].map((loop) => loop.backFile).sort()).toEqual(
      [base.imagePath, cow('sb-b')].sort(),
    );

    host.devices.get('hangar-sb-b')!.openCount = 0;
    expect(await restartedProvider().sweep(new Set())).toEqual({ removed: ['sb-b'] });
    expect(host.loops.size).toBe(0);
    expect(host.devices.size).toBe(0);
  });
});
