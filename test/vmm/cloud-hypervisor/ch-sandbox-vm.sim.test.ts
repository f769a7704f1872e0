import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IllegalStateError } from '../../../src/errors/index.ts';
import { ChApiClient } from '../../../src/vmm/cloud-hypervisor/api-client.ts';
import { simulatorBinary } from '../../../src/vmm/cloud-hypervisor/ch-backend.ts';
import { ChSandboxVm } from '../../../src/vmm/cloud-hypervisor/ch-sandbox-vm.ts';
import type { VmCrash } from '../../../src/vmm/vm-driver.ts';
import { VmSpec } from '../../../src/vmm/vm-spec.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';

describe('ChSandboxVm [CH simulator stand-in]', () => {
  let temp: TempDir;
  const vms: ChSandboxVm[] = [];

  beforeEach(async () => {
    temp = await makeTempDir('hangar-chvm-');
    await writeFile(join(temp.path, 'vmlinux'), 'kernel');
  });

  afterEach(async () => {
    await Promise.allSettled(vms.splice(0).map((vm) => vm.shutdown()));
    await temp.remove();
  });

  async function specFor(id: string, env: Record<string, string> = {}): Promise<VmSpec> {
    const disk = join(temp.path, `${id}.img`);
    await writeFile(disk, '');
    await truncate(disk, 1024 * 1024);
    return VmSpec.parse({
      sandboxId: id,
      vcpus: 2,
      memoryMib: 256,
      kernelPath: join(temp.path, 'vmlinux'),
      cmdline: 'console=ttyS0',
      diskPath: disk,
      env,
    });
  }

  function vmFor(id: string, shutdownTimeouts = {}): ChSandboxVm {
    const vm = new ChSandboxVm(id, join(temp.path, 'run', id), {
      binary: simulatorBinary(),
      shutdownTimeouts,
    });
    vms.push(vm);
    return vm;
  }

  it('runs the whole lifecycle, each step idempotent', async () => {
    const vm = vmFor('sb-1');
    const spec = await specFor('sb-1');
    expect(await vm.state()).toBe('absent');
    expect(await vm.ensureBooted(spec)).toBe('done');
    expect(await vm.ensureBooted(spec)).toBe('already');
    expect(await vm.state()).toBe('running');
    expect(await vm.ensurePaused()).toBe('done');
    expect(await vm.ensurePaused()).toBe('already');
    const snap = await vm.snapshotTo(join(temp.path, 'snaps', 's1'));
    expect(snap.outcome).toBe('done');
    expect((await vm.snapshotTo(snap.dir)).outcome).toBe('already');
    expect(await vm.ensureResumed()).toBe('done');
    expect(await vm.ensureResumed()).toBe('already');
    expect(await vm.shutdown()).toBe('done');
    expect(await vm.shutdown()).toBe('already');
    expect(await vm.state()).toBe('absent');
  });

  it('sends the VmConfig defaults that keep snapshots small and correct', async () => {
    const vm = vmFor('sb-cfg');
    await vm.ensureBooted(await specFor('sb-cfg'));
    const info = await vm.api.info();
    expect(info.config.memory).toMatchObject({ shared: true, thp: false });
    expect(info.config.balloon).toMatchObject({ deflate_on_oom: true, free_page_reporting: true });
    expect(info.config.serial).toMatchObject({ mode: 'File', file: vm.paths.serialLog });
    expect(info.config.console).toMatchObject({ mode: 'Off' });
    expect(info.config.net?.[0]).toMatchObject({ tap: 'tap0', mac: '02:fc:00:00:00:05' });
  });

  it('classifies illegal transitions by probing vm.info, not by the 500 CH returns', async () => {
    const vm = vmFor('sb-ill');
    await expect(vm.ensurePaused()).rejects.toBeInstanceOf(IllegalStateError);
    await expect(vm.ensureResumed()).rejects.toBeInstanceOf(IllegalStateError);
    const spec = await specFor('sb-ill');
    await vm.ensureBooted(spec);
    // The raw API still answers wrong-state calls with 500 and an error chain.
    await expect(vm.api.resume()).rejects.toMatchObject({ status: 500 });
    await expect(vm.api.snapshot({ destination_url: `file://${temp.path}` })).rejects.toMatchObject({
      status: 500,
    });
    await expect(vm.api.create({ payload: { kernel: spec.kernelPath } })).rejects.toMatchObject({
      status: 500,
    });
    await vm.api.shutdown();
    await expect(vm.ensurePaused()).rejects.toThrow(/Created/);
  });

  it('boots a VM again after vm.shutdown: CH keeps the config, so vm.info says Created', async () => {
    const vm = vmFor('sb-again');
    const spec = await specFor('sb-again');
    await vm.ensureBooted(spec);
    await vm.api.shutdown();
    expect(await vm.state()).toBe('created');
    expect(await vm.ensureBooted(spec)).toBe('done');
    expect(await vm.state()).toBe('running');
  });

  it('shuts down with vmm.shutdown alone: CH answers 200 and exits 0, no signal needed', async () => {
    const vm = vmFor('sb-down');
    await vm.ensureBooted(await specFor('sb-down'));
    expect(await vm.shutdown()).toBe('done');
    const log = await readFile(vm.paths.vmmLog, 'utf8');
    expect(log).toMatch(/API PUT vmm\.shutdown/);
    expect(log).not.toMatch(/API PUT vm\.shutdown/);
    expect(log).toMatch(/exiting with code 0/);
    expect(log).not.toMatch(/received SIG/);
  });

  it('restores into a VMM left with a config and no VM (CH refuses that restore): deletes the config first', async () => {
    const source = vmFor('sb-cfg-src');
    await source.ensureBooted(await specFor('sb-cfg-src'));
    const snap = await source.snapshotTo(join(temp.path, 'snaps', 'over-config'));
    const target = vmFor('sb-cfg-dst');
    const spec = await specFor('sb-cfg-dst');
    await target.ensureBooted(spec);
    await target.api.shutdown();
    expect(await target.state()).toBe('created');
    expect(await target.restoreFrom(snap.dir, spec, { resume: true })).toBe('done');
    expect(await target.state()).toBe('running');
    expect((await target.api.info()).config.disks?.[0]?.path).toBe(spec.diskPath);
    expect(await readFile(target.paths.vmmLog, 'utf8')).toMatch(/restored generation 1 /);
  });

  it('refuses to restore over a config left with another disk', async () => {
    const source = vmFor('sb-other-src');
    await source.ensureBooted(await specFor('sb-other-src'));
    const snap = await source.snapshotTo(join(temp.path, 'snaps', 'other'));
    const target = vmFor('sb-other-dst');
    await target.ensureBooted(await specFor('sb-someone-else'));
    await target.api.shutdown();
    await expect(
      target.restoreFrom(snap.dir, await specFor('sb-other-dst'), { resume: false }),
    ).rejects.toBeInstanceOf(IllegalStateError);
  });

  it('refuses to adopt a running VMM that serves another disk', async () => {
    const vm = vmFor('sb-disk');
    await vm.ensureBooted(await specFor('sb-disk'));
    await expect(vm.ensureBooted(await specFor('sb-other'))).rejects.toBeInstanceOf(IllegalStateError);
  });

  it('restores a snapshot into a new process with this sandbox disk, leaving the snapshot untouched', async () => {
    const source = vmFor('sb-src');
    await source.ensureBooted(await specFor('sb-src'));
    const snap = await source.snapshotTo(join(temp.path, 'snaps', 's2'));
    const before = await readFile(join(snap.dir, 'config.json'), 'utf8');

    const target = vmFor('sb-dst');
    const spec = await specFor('sb-dst');
    expect(await target.restoreFrom(snap.dir, spec, { resume: true })).toBe('done');
    expect(await target.restoreFrom(snap.dir, spec, { resume: true })).toBe('already');
    expect(await target.state()).toBe('running');
    const info = await target.api.info();
    expect(info.config.disks?.[0]?.path).toBe(spec.diskPath);
    expect(info.config.serial?.file).toBe(target.paths.serialLog);
    expect(target.pid).not.toBe(source.pid);
    expect(await readFile(join(snap.dir, 'config.json'), 'utf8')).toBe(before);
    await expect(stat(target.paths.restoreStaging)).rejects.toThrow();
  });

  it('restores paused unless asked to resume', async () => {
    const source = vmFor('sb-p1');
    await source.ensureBooted(await specFor('sb-p1'));
    const snap = await source.snapshotTo(join(temp.path, 'snaps', 's3'));
    const target = vmFor('sb-p2');
    await target.restoreFrom(snap.dir, await specFor('sb-p2'), { resume: false });
    expect(await target.state()).toBe('paused');
  });

  it('re-attaches to a running VMM after the driver forgets it', async () => {
    const first = vmFor('sb-re');
    await first.ensureBooted(await specFor('sb-re'));
    const pid = first.pid;
    const again = vmFor('sb-re');
    expect(await again.reattach()).toBe(true);
    expect(again.pid).toBe(pid);
    expect(await again.state()).toBe('running');
    expect(await again.ensureBooted(await specFor('sb-re'))).toBe('already');
  });

  it('reports a SIGKILL of the VMM as a crash within 1 s, and a requested shutdown as none', async () => {
    const vm = vmFor('sb-crash');
    await vm.ensureBooted(await specFor('sb-crash'));
    const crashes: VmCrash[] = [];
    const seen = new Promise<number>((resolve) => {
      vm.onCrash((crash) => {
        crashes.push(crash);
        resolve(performance.now());
      });
    });
    const killedAt = performance.now();
    process.kill(vm.pid!, 'SIGKILL');
    const reportedAt = await seen;
    expect(reportedAt - killedAt).toBeLessThan(1000);
    expect(crashes[0]).toMatchObject({ sandboxId: 'sb-crash', signal: 'SIGKILL' });

    const calm = vmFor('sb-calm');
    await calm.ensureBooted(await specFor('sb-calm'));
    const unexpected: VmCrash[] = [];
    calm.onCrash((crash) => unexpected.push(crash));
    await calm.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(unexpected).toEqual([]);
  });

  it('escalates shutdown to signals when the API hangs and SIGTERM is ignored', async () => {
    const vm = vmFor('sb-hang', { apiMs: 300, exitMs: 300, termMs: 300, killMs: 2000 });
    const spec = await specFor('sb-hang', {
      HANGAR_SIM_FAULT: 'hang-at=vm.shutdown,hang-at=vmm.shutdown,ignore-sigterm',
    });
    await vm.ensureBooted(spec);
    const pid = vm.pid!;
    expect(await vm.shutdown()).toBe('done');
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('keeps a half-written snapshot from looking complete when the VMM dies mid-snapshot', async () => {
    const vm = vmFor('sb-half');
    await vm.ensureBooted(await specFor('sb-half', { HANGAR_SIM_FAULT: 'exit-at=vm.snapshot' }));
    const dir = join(temp.path, 'snaps', 'half');
    await expect(vm.snapshotTo(dir)).rejects.toThrow();
    await expect(stat(dir)).rejects.toThrow();
    // Retry after the crash: boot again (no fault this time) and the snapshot completes.
    const retry = vmFor('sb-half');
    await retry.ensureBooted(await specFor('sb-half'));
    expect((await retry.snapshotTo(dir)).outcome).toBe('done');
    const client = new ChApiClient(retry.paths.apiSocket);
    expect((await client.info()).state).toBe('Paused');
    await client.close();
  });
});
