import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseWorkerConfig } from '../../../src/config/worker-config.ts';
import { ErrorCode, HangarError } from '../../../src/errors/index.ts';
import { InProcessBackend, LATENCY_ENV } from '../../../src/vmm/in-process/index.ts';
import { selectVmmBackend } from '../../../src/vmm/select-backend.ts';
import { VmSpec } from '../../../src/vmm/vm-spec.ts';

const MIB = 1024 * 1024;

function specFor(sandboxId: string, overrides: Partial<VmSpec> = {}): VmSpec {
  return VmSpec.parse({
    sandboxId,
    vcpus: 2,
    memoryMib: 256,
    kernelPath: '/nonexistent/vmlinux',
    cmdline: 'console=ttyS0',
    diskPath: `/dev/fake-${sandboxId}`,
    ...overrides,
  });
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof HangarError ? error.code : String(error);
  }
}

describe('[in-process VMM stand-in] backend', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-in-process-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is chosen by name, says it is a stand-in with no VM, and is never what auto picks', async () => {
    const backend = await selectVmmBackend('in-process-stand-in');
    expect(backend).toBeInstanceOf(InProcessBackend);
    expect(backend.info).toMatchObject({ kind: 'in-process-stand-in', standIn: true });
    expect(backend.info.description).toMatch(/stand-in: no VM and no VMM process/);
    expect(parseWorkerConfig({ hostId: 'h1', redisUrl: 'redis://x', vmm: 'in-process-stand-in' }).vmm).toBe(
      'in-process-stand-in',
    );
    expect((await selectVmmBackend('auto')).info.kind).not.toBe('in-process-stand-in');
  });

  it('boots, pauses and resumes as ensures that answer done, then already, with no pid', async () => {
    const vm = new InProcessBackend().sandbox('sb-1', join(dir, 'run', 'sb-1'));
    expect(await vm.state()).toBe('absent');
    expect(await vm.reattach()).toBe(false);
    expect(await vm.ensureBooted(specFor('sb-1'))).toBe('done');
    expect(await vm.ensureBooted(specFor('sb-1'))).toBe('already');
    expect(vm.pid).toBeUndefined();
    expect(await vm.reattach()).toBe(true);
    expect(await vm.state()).toBe('running');
    expect(await vm.ensurePaused()).toBe('done');
    expect(await vm.ensurePaused()).toBe('already');
    expect(await vm.state()).toBe('paused');
    expect(await vm.ensureResumed()).toBe('done');
    expect(await vm.ensureResumed()).toBe('already');
    expect(await vm.shutdown()).toBe('done');
    expect(await vm.shutdown()).toBe('already');
    expect(await vm.state()).toBe('absent');
    expect(await codeOf(vm.ensurePaused())).toBe(ErrorCode.IllegalState);
  });

  it('shares one VM between handles of one backend, and loses it with the backend (a worker restart)', async () => {
    const runtime = join(dir, 'run', 'sb-2');
    const first = new InProcessBackend();
    await first.sandbox('sb-2', runtime).ensureBooted(specFor('sb-2'));
    expect(await first.sandbox('sb-2', runtime).state()).toBe('running');
    expect(first.vmCount).toBe(1);
    const restarted = new InProcessBackend().sandbox('sb-2', runtime);
    expect(await restarted.reattach()).toBe(false);
    expect(await restarted.state()).toBe('absent');
  });

  it('never adopts a VM that runs another disk', async () => {
    const vm = new InProcessBackend().sandbox('sb-3', join(dir, 'run', 'sb-3'));
    await vm.ensureBooted(specFor('sb-3'));
    expect(await codeOf(vm.ensureBooted(specFor('sb-3', { diskPath: '/dev/other' })))).toBe(
      ErrorCode.IllegalState,
    );
  });

  it('writes a snapshot as a small vm.json and a sparse memory file, and restores it into another sandbox', async () => {
    const backend = new InProcessBackend();
    const source = backend.sandbox('sb-src', join(dir, 'run', 'sb-src'));
    await source.ensureBooted(specFor('sb-src'));
    const snapDir = join(dir, 'snapshots', 'snap-1', 'vm');
    const info = await source.snapshotTo(snapDir);
    expect(info.outcome).toBe('done');
    expect(await source.state()).toBe('paused');
    const state = JSON.parse(await readFile(join(snapDir, 'vm.json'), 'utf8'));
    expect(state).toMatchObject({ standIn: 'in-process', vmState: 'paused', memoryMib: 256, vcpus: 2 });
    const memory = await stat(join(snapDir, 'memory'));
    expect(memory.size).toBe(256 * MIB);
    expect(memory.blocks * 512).toBeLessThan(memory.size / 100);
    expect((memory.mode & 0o777).toString(8)).toBe('600');
    expect(info.diskBytes).toBeGreaterThan(0);
    expect(info.diskBytes).toBeLessThan(MIB);
    expect((await source.snapshotTo(snapDir)).outcome).toBe('already');

    const target = backend.sandbox('sb-dst', join(dir, 'run', 'sb-dst'));
    const spec = specFor('sb-dst', { vcpus: 1, memoryMib: 128 });
    expect(await target.restoreFrom(snapDir, spec, { resume: true })).toBe('done');
    expect(await target.state()).toBe('running');
    expect(await target.restoreFrom(snapDir, spec, { resume: true })).toBe('already');
    expect(await source.state()).toBe('paused');
  });

  it('refuses a missing snapshot (not found) and a damaged one (corrupt state)', async () => {
    const backend = new InProcessBackend();
    const vm = backend.sandbox('sb-4', join(dir, 'run', 'sb-4'));
    expect(await codeOf(vm.restoreFrom(join(dir, 'nothing'), specFor('sb-4'), { resume: false }))).toBe(
      ErrorCode.NotFound,
    );
    const source = backend.sandbox('sb-5', join(dir, 'run', 'sb-5'));
    await source.ensureBooted(specFor('sb-5'));
    const snapDir = join(dir, 'snap-bad');
    await source.snapshotTo(snapDir);
    await writeFile(join(snapDir, 'vm.json'), '{ not json');
    expect(await codeOf(vm.restoreFrom(snapDir, specFor('sb-4'), { resume: false }))).toBe(
      ErrorCode.CorruptState,
    );
    expect(await vm.state()).toBe('absent');
  });

  it('waits the configured latency per operation, and a VM’s HANGAR_SIM_LATENCY overrides it', async () => {
    const backend = new InProcessBackend({ latency: { pause: 40 } });
    const vm = backend.sandbox('sb-6', join(dir, 'run', 'sb-6'));
    await vm.ensureBooted(specFor('sb-6'));
    let started = performance.now();
    await vm.ensurePaused();
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);

    const slow = backend.sandbox('sb-7', join(dir, 'run', 'sb-7'));
    started = performance.now();
    await slow.ensureBooted(specFor('sb-7', { env: { [LATENCY_ENV]: 'boot=50,snapshot=30' } }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    started = performance.now();
    await slow.snapshotTo(join(dir, 'snap-slow'));
    // pause (40, the backend's) + snapshot (30, the VM's own)
    expect(performance.now() - started).toBeGreaterThanOrEqual(65);

    const bad = backend.sandbox('sb-8', join(dir, 'run', 'sb-8'));
    expect(await codeOf(bad.ensureBooted(specFor('sb-8', { env: { [LATENCY_ENV]: 'nap=5' } })))).toBe(
      ErrorCode.Validation,
    );
  });
});
