import { access, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChApiClient } from '../../../src/vmm/cloud-hypervisor/api-client.ts';
import { ChApiError, VmmUnreachableError } from '../../../src/vmm/cloud-hypervisor/api-errors.ts';
import { type ChSim, type ChSimOptions, rawChCall, startChSim, testVmConfig } from '../../support/ch-sim.ts';

const MIB = 1024 * 1024;

describe('CH simulator stand-in: injected faults, latency and process exit', () => {
  const sims: ChSim[] = [];
  const clients: ChApiClient[] = [];

  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((c) => c.close()));
    await Promise.allSettled(sims.splice(0).map((s) => s.stop()));
  });

  async function sim(options: ChSimOptions = {}, timeoutMs?: number) {
    const started = await startChSim(options);
    sims.push(started);
    const api = new ChApiClient(
      started.socketPath,
      timeoutMs === undefined ? {} : { timeouts: { default: timeoutMs } },
    );
    clients.push(api);
    return { sim: started, api };
  }

  const alive = (s: ChSim) => s.child.exitCode === null && s.child.signalCode === null;

  it('exit-at=vm.snapshot: exits 1 mid-call, leaving config.json, state.json and half of memory-ranges', async () => {
    const { sim: s, api } = await sim({ args: ['--sim-fault', 'exit-at=vm.snapshot'] });
    await api.create(testVmConfig({ memory: { size: 64 * MIB } }));
    await api.boot();
    await api.pause();
    const dir = join(s.dir, 'snap');
    await mkdir(dir);
    const error = await api.snapshot({ destination_url: `file://${dir}` }).catch((e) => e);
    expect(error).toBeInstanceOf(VmmUnreachableError);
    expect(error.code).toBe('E_VMM_UNREACHABLE');
    expect(await s.exited).toEqual({ code: 1, signal: null });
    // CH writes the three files in this order, so a crash cuts the last one short.
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'memory-ranges', 'state.json']);
    expect((await stat(join(dir, 'memory-ranges'))).size).toBe(32 * MIB);
    expect(await s.log()).toMatch(/exit-at=vm\.snapshot/);
  });

  it('exit-at from HANGAR_SIM_FAULT: the process dies on that call', async () => {
    const { sim: s, api } = await sim({ env: { HANGAR_SIM_FAULT: 'exit-at=vm.boot' } });
    await api.create(testVmConfig());
    await expect(api.boot()).rejects.toBeInstanceOf(VmmUnreachableError);
    expect((await s.exited).code).toBe(1);
  });

  it('hang-at: the call never answers (client times out) and the process stays alive', async () => {
    const { sim: s, api } = await sim({ args: ['--sim-fault', 'hang-at=vm.pause'] }, 300);
    await api.create(testVmConfig());
    await api.boot();
    const error = await api.pause().catch((e) => e);
    expect(error).toBeInstanceOf(VmmUnreachableError);
    expect(error).toMatchObject({ timedOut: true, endpoint: 'vm.pause' });
    expect(error.message).toMatch(/timed out after 300 ms/);
    expect(alive(s)).toBe(true);
  });

  it('fail-once-at: answers 500 once, then behaves', async () => {
    const { api } = await sim({ args: ['--sim-fault', 'fail-once-at=vm.boot;fail-once-at=vm.pause'] });
    await api.create(testVmConfig());
    const first = await api.boot().catch((e) => e);
    expect(first).toBeInstanceOf(ChApiError);
    expect(first.status).toBe(500);
    expect(first.errorChain.join(' ')).toMatch(/transient/);
    expect((await api.info()).state).toBe('Created');
    await api.boot();
    await expect(api.pause()).rejects.toMatchObject({ status: 500 });
    await api.pause();
    expect((await api.info()).state).toBe('Paused');
  });

  it('flags win over the environment', async () => {
    const { api } = await sim({
      env: { HANGAR_SIM_FAULT: 'fail-once-at=vm.create' },
      args: ['--sim-fault', 'fail-once-at=vm.boot'],
    });
    await api.create(testVmConfig());
    await expect(api.boot()).rejects.toMatchObject({ status: 500 });
  });

  it('ignore-sigterm: SIGTERM does nothing, SIGKILL ends it', async () => {
    const { sim: s, api } = await sim({ args: ['--sim-fault', 'ignore-sigterm'] });
    s.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(alive(s)).toBe(true);
    expect((await api.ping()).version).toBe('53.0.0');
    s.child.kill('SIGKILL');
    expect((await s.exited).signal).toBe('SIGKILL');
    expect(await s.log()).toMatch(/ignoring SIGTERM/);
  });

  it('SIGTERM without the fault: exits by the signal and removes its socket', async () => {
    const { sim: s } = await sim();
    s.child.kill('SIGTERM');
    expect((await s.exited).signal).toBe('SIGTERM');
    await expect(access(s.socketPath)).rejects.toThrow();
  });

  it('vmm.shutdown: answers 200 (not 204) with no body, then exits 0 and removes its socket', async () => {
    const { sim: s, api } = await sim();
    await api.create(testVmConfig());
    await api.boot();
    expect(await rawChCall(s.socketPath, 'PUT', 'vmm.shutdown')).toEqual({ status: 200, text: '' });
    expect(await s.exited).toEqual({ code: 0, signal: null });
    await expect(access(s.socketPath)).rejects.toThrow();
  });

  it('delays calls by the configured latency, snapshots scaled by memory size', async () => {
    const { sim: s, api } = await sim({
      env: { HANGAR_SIM_LATENCY: 'boot=300,snapshot=0,snapshot_per_gib=1200' },
    });
    await api.create(testVmConfig({ memory: { size: 256 * MIB } }));
    let started = performance.now();
    await api.boot();
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    await api.pause();
    const dir = join(s.dir, 'snap');
    await mkdir(dir);
    started = performance.now();
    await api.snapshot({ destination_url: `file://${dir}` });
    // 1200 ms per GiB x 0.25 GiB
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });
});
