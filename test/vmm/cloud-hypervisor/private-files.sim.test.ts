import { lstat, readdir, truncate, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatorBinary } from '../../../src/vmm/cloud-hypervisor/ch-backend.ts';
import { ChSandboxVm } from '../../../src/vmm/cloud-hypervisor/ch-sandbox-vm.ts';
import { stageRestore } from '../../../src/vmm/cloud-hypervisor/restore-staging.ts';
import { VmSpec } from '../../../src/vmm/vm-spec.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';

/** Every directory and regular file under `root` (itself included) with its permission bits, as `path mode`. */
async function modes(root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const info = await lstat(path);
    if (!info.isDirectory() && !info.isFile()) return; // the API socket: guarded by its 0700 directory
    lines.push(`${relative(root, path) || '.'} ${(info.mode & 0o777).toString(8)}`);
    if (info.isDirectory()) for (const name of await readdir(path)) await walk(join(path, name));
  };
  await walk(root);
  return lines.sort();
}

describe('snapshot, runtime and restore files are 0600 in 0700 directories, under umask 000 [CH simulator stand-in]', () => {
  let temp: TempDir;
  let previousUmask: number;
  let vm: ChSandboxVm;
  let spec: VmSpec;
  const stateDir = () => join(temp.path, 'state');

  beforeAll(async () => {
    temp = await makeTempDir('hangar-modes-');
    // The most permissive umask there is: every mode below is one the code set, not one the umask took away.
    previousUmask = process.umask(0);
    await writeFile(join(temp.path, 'vmlinux'), 'kernel');
    const disk = join(temp.path, 'sb-modes.img');
    await writeFile(disk, '');
    await truncate(disk, 1024 * 1024);
    spec = VmSpec.parse({
      sandboxId: 'sb-modes',
      vcpus: 1,
      memoryMib: 128,
      kernelPath: join(temp.path, 'vmlinux'),
      cmdline: 'console=ttyS0',
      diskPath: disk,
    });
    vm = new ChSandboxVm('sb-modes', join(stateDir(), 'run', 'sb-modes'), { binary: simulatorBinary() });
    await vm.ensureBooted(spec);
  });
  afterAll(async () => {
    await vm?.shutdown();
    process.umask(previousUmask);
    await temp.remove();
  });

  it('a snapshot through the driver: every directory 0700, every file 0600', async () => {
    const snapshot = await vm.snapshotTo(join(stateDir(), 'snapshots', 'snap-1', 'vm'));
    expect(snapshot.outcome).toBe('done');
    expect(await modes(join(stateDir(), 'snapshots'))).toEqual([
      '. 700',
      'snap-1 700',
      'snap-1/vm 700',
      'snap-1/vm/config.json 600',
      'snap-1/vm/memory-ranges 600',
      'snap-1/vm/state.json 600',
    ]);
  });

  it("the VMM's runtime dir: 0700, with its pidfile, output and logs 0600", async () => {
    expect(await modes(vm.paths.dir)).toEqual([
      '. 700',
      'serial.log 600',
      'vmm.log 600',
      'vmm.out 600',
      'vmm.pid 600',
    ]);
  });

  it("a restore's staging dir: 0700, its rewritten config and linked snapshot files 0600", async () => {
    const snapshotDir = join(stateDir(), 'snapshots', 'snap-1', 'vm');
    const staging = join(stateDir(), 'run', 'sb-other', 'restore');
    await stageRestore(snapshotDir, staging, spec, join(stateDir(), 'run', 'sb-other', 'serial.log'));
    expect(await modes(join(stateDir(), 'run', 'sb-other'))).toEqual([
      '. 700',
      'restore 700',
      'restore/config.json 600',
      'restore/memory-ranges 600',
      'restore/state.json 600',
    ]);
  });
});
