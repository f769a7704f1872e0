import { readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAtomicWriteTemp, removeAtomicWriteTemps } from '../../../src/util/atomic-write.ts';
import { pollUntil } from '../../../src/util/poll.ts';
import { simulatorBinary } from '../../../src/vmm/cloud-hypervisor/ch-backend.ts';
import { ChSandboxVm } from '../../../src/vmm/cloud-hypervisor/ch-sandbox-vm.ts';
import { type FoundVmm, findVmmProcesses, killUnownedVmms } from '../../../src/vmm/index.ts';
import { isAlive, readPidfile } from '../../../src/vmm/process/index.ts';
import { VmSpec } from '../../../src/vmm/vm-spec.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';
import { runKilledAt } from '../../util/support/kill-at-fs-call.ts';

const CH_DRIVER = new URL('../../../src/vmm/cloud-hypervisor/ch-sandbox-vm.ts', import.meta.url).pathname;
const CH_BACKEND = new URL('../../../src/vmm/cloud-hypervisor/ch-backend.ts', import.meta.url).pathname;

// The pidfile's temp file is opened and then renamed: dying at either leaves no pidfile.
const PIDFILE_TEMP = /\/vmm\.pid\.[0-9a-f]{8}\.tmp$/;

describe('ChSandboxVm after a worker SIGKILLed before the pidfile is durable [CH simulator stand-in]', () => {
  let temp: TempDir;
  let runRoot: string;
  const vms: ChSandboxVm[] = [];

  beforeEach(async () => {
    temp = await makeTempDir('hangar-lostpid-');
    runRoot = join(temp.path, 'run');
    await writeFile(join(temp.path, 'vmlinux'), 'kernel');
  });
  afterEach(async () => {
    await Promise.allSettled(vms.splice(0).map((vm) => vm.shutdown()));
    // Whatever a failed test left: every VMM under this run root goes.
    await killUnownedVmms(runRoot, new Set(), undefined, { termGraceMs: 500, killGraceMs: 5_000 });
    await temp.remove();
  });

  async function specFor(id: string, env: Record<string, string> = {}): Promise<VmSpec> {
    const disk = join(temp.path, `${id}.img`);
    await writeFile(disk, '');
    await truncate(disk, 1024 * 1024);
    return VmSpec.parse({
      sandboxId: id,
      vcpus: 1,
      memoryMib: 128,
      kernelPath: join(temp.path, 'vmlinux'),
      cmdline: 'console=ttyS0',
      diskPath: disk,
      env,
    });
  }

  function vmFor(id: string, options: { readyTimeoutMs?: number } = {}): ChSandboxVm {
    const vm = new ChSandboxVm(id, join(runRoot, id), { binary: simulatorBinary(), ...options });
    vms.push(vm);
    return vm;
  }

  /** A worker process that boots `spec` and is SIGKILLed at `call` on the pidfile's temp file. */
  async function bootInDoomedWorker(spec: VmSpec, call: 'open' | 'rename'): Promise<FoundVmm> {
    const run = await runKilledAt(
      call,
      PIDFILE_TEMP,
      `const { ChSandboxVm } = await import(${JSON.stringify(CH_DRIVER)});
       const { simulatorBinary } = await import(${JSON.stringify(CH_BACKEND)});
       const vm = new ChSandboxVm(${JSON.stringify(spec.sandboxId)}, ${JSON.stringify(join(runRoot, spec.sandboxId))}, { binary: simulatorBinary() });
       await vm.ensureBooted(${JSON.stringify(spec)});
       console.log('the worker lived');`,
    );
    expect(run).toMatchObject({ signal: 'SIGKILL', stdout: '' });
    const orphans = await pollUntil(
      'the orphaned VMM to show its own command line',
      async () => {
        const found = await findVmmProcesses(runRoot);
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 10_000 },
    );
    expect(orphans.map((vmm) => vmm.sandboxId)).toEqual([spec.sandboxId]);
    return orphans[0]!;
  }

  it.for(['open', 'rename'] as const)(
    'killed at the pidfile %s: the retried boot adopts the VMM left running instead of launching a second',
    async (call) => {
      const id = `sb-${call}`;
      const spec = await specFor(id);
      const orphan = await bootInDoomedWorker(spec, call);
      const vm = vmFor(id);
      await expect(stat(vm.paths.pidfile)).rejects.toThrow();

      expect(await vm.ensureBooted(spec)).toBe('done');
      expect(vm.pid).toBe(orphan.pid);
      expect(await vm.state()).toBe('running');
      expect((await findVmmProcesses(runRoot)).map((vmm) => vmm.pid)).toEqual([orphan.pid]);
      // Recorded now: the next handle finds it through its pidfile.
      expect(await readPidfile(vm.paths.pidfile)).toMatchObject({
        pid: orphan.pid,
        identity: vm.paths.apiSocket,
      });
      const again = vmFor(id);
      expect(await again.ensureBooted(spec)).toBe('already');
      expect(again.pid).toBe(orphan.pid);

      // Killed before the rename, the writer also left its temp file: reconcile's to sweep.
      const temps = (await readdir(vm.paths.dir)).filter(isAtomicWriteTemp);
      expect(temps).toHaveLength(call === 'rename' ? 1 : 0);
      expect(await removeAtomicWriteTemps(vm.paths.dir)).toEqual(
        temps.map((name) => join(vm.paths.dir, name)),
      );

      expect(await again.shutdown()).toBe('done');
      expect(isAlive(orphan.pid)).toBe(false);
      expect(await findVmmProcesses(runRoot)).toEqual([]);
    },
  );

  it('a VMM left without a pidfile that never answers is ended and replaced by one that does', async () => {
    const id = 'sb-mute';
    const orphan = await bootInDoomedWorker(
      await specFor(id, { HANGAR_SIM_FAULT: 'hang-at=vmm.ping' }),
      'open',
    );
    const vm = vmFor(id, { readyTimeoutMs: 1_000 });
    expect(await vm.ensureBooted(await specFor(id))).toBe('done');
    expect(isAlive(orphan.pid)).toBe(false);
    expect(vm.pid).not.toBe(orphan.pid);
    expect((await findVmmProcesses(runRoot)).map((vmm) => vmm.pid)).toEqual([vm.pid]);
    expect(await vm.state()).toBe('running');
  });

  it('a corrupt pidfile does not hide a running VMM: it is adopted, not launched again', async () => {
    const id = 'sb-corrupt';
    const spec = await specFor(id);
    const first = vmFor(id);
    await first.ensureBooted(spec);
    const pid = first.pid;
    await writeFile(first.paths.pidfile, '{"pid": 12, "trunc');

    const retry = vmFor(id);
    expect(await retry.ensureBooted(spec)).toBe('already');
    expect(retry.pid).toBe(pid);
    expect((await findVmmProcesses(runRoot)).map((vmm) => vmm.pid)).toEqual([pid]);
    expect(await readPidfile(retry.paths.pidfile)).toMatchObject({ pid });
  });
});
