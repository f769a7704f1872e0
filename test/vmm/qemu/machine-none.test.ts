import { lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findVmmProcesses } from '../../../src/vmm/index.ts';
import {
  isAlive,
  launchDetached,
  readPidfile,
  type VmmProcess,
  waitReady,
} from '../../../src/vmm/process/index.ts';
import { migrateToFile } from '../../../src/vmm/qemu/migration.ts';
import { findQemuBinary } from '../../../src/vmm/qemu/qemu-backend.ts';
import { QemuSandboxVm } from '../../../src/vmm/qemu/qemu-sandbox-vm.ts';
import { QmpClient } from '../../../src/vmm/qemu/qmp-client.ts';
import { runtimePaths } from '../../../src/vmm/runtime-paths.ts';
import { writeSnapshotAtomically } from '../../../src/vmm/snapshot-dir.ts';
import { bareQemuArgv } from '../../support/bare-qemu.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';

const qemu = await findQemuBinary();

// A QEMU with no machine: QMP, stop and migration all work, and nothing boots.
describe.skipIf(qemu === undefined)('QEMU without a guest (-machine none)', () => {
  let temp: TempDir;
  let runRoot: string;
  const launched: VmmProcess[] = [];

  beforeEach(async () => {
    temp = await makeTempDir('hangar-qemu-none-');
    runRoot = join(temp.path, 'run');
  });
  afterEach(async () => {
    for (const proc of launched.splice(0)) {
      if (proc.signal('SIGKILL')) await proc.waitForExit(5_000);
    }
    await temp.remove();
  });

  /** QEMU started with its QMP socket in `<runRoot>/<id>/`, as the driver starts it, but its pidfile elsewhere. */
  async function startQemu(id: string): Promise<VmmProcess> {
    const paths = runtimePaths(join(runRoot, id));
    await mkdir(paths.dir, { recursive: true });
    const proc = await launchDetached({
      argv: bareQemuArgv(qemu!, paths.apiSocket),
      outputPath: paths.output,
      pidfilePath: join(temp.path, `${id}.pid`),
      identity: paths.apiSocket,
    });
    launched.push(proc);
    await waitReady(
      proc,
      async () => {
        await (await QmpClient.connect(paths.apiSocket, { connectTimeoutMs: 500 })).close();
        return true;
      },
      { timeoutMs: 10_000 },
    );
    return proc;
  }

  it('QemuSandboxVm re-attaches to a QEMU its pidfile does not name, records it, and stops it', async () => {
    const proc = await startQemu('sb-q');
    const vm = new QemuSandboxVm('sb-q', join(runRoot, 'sb-q'), { binary: qemu!, accel: 'tcg' });
    expect(await vm.reattach()).toBe(true);
    expect(vm.pid).toBe(proc.pid);
    expect(await readPidfile(vm.paths.pidfile)).toMatchObject({
      pid: proc.pid,
      identity: vm.paths.apiSocket,
    });
    expect(await vm.shutdown()).toBe('done');
    expect(isAlive(proc.pid)).toBe(false);
    expect(await findVmmProcesses(runRoot)).toEqual([]);
  });

  it("a snapshot's migration stream is 0600 in a 0700 directory, under umask 000", async () => {
    const paths = runtimePaths(join(runRoot, 'sb-m'));
    await startQemu('sb-m');
    const snapshot = join(temp.path, 'snapshots', 'snap-m', 'vm');
    const previous = process.umask(0);
    try {
      const qmp = await QmpClient.connect(paths.apiSocket, { connectTimeoutMs: 2_000, timeoutMs: 5_000 });
      try {
        await qmp.execute('stop');
        await writeSnapshotAtomically(snapshot, (staging) => migrateToFile(qmp, staging, 10_000));
      } finally {
        await qmp.close();
      }
    } finally {
      process.umask(previous);
    }
    expect(((await lstat(join(temp.path, 'snapshots'))).mode & 0o777).toString(8)).toBe('700');
    expect(((await lstat(snapshot)).mode & 0o777).toString(8)).toBe('700');
    expect(await readdir(snapshot)).toEqual(['memory']);
    expect(((await lstat(join(snapshot, 'memory'))).mode & 0o777).toString(8)).toBe('600');
  });
});
