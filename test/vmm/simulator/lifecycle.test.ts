import { afterEach, describe, expect, it } from 'vitest';
import { ChApiClient } from '../../../src/vmm/cloud-hypervisor/api-client.ts';
import { ChApiError } from '../../../src/vmm/cloud-hypervisor/api-errors.ts';
import { type ChSim, rawChCall, startChSim, testVmConfig } from '../../support/ch-sim.ts';

// Sequences across states. What each call answers in each state, one call at a time, is the
// CH answer table's (ch-answers.test.ts); this file follows a VM through several calls.

const MIB = 1024 * 1024;

async function rejection(promise: Promise<unknown>): Promise<ChApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChApiError);
  return error as ChApiError;
}

describe('CH simulator stand-in: state machine across calls', () => {
  const sims: ChSim[] = [];
  const clients: ChApiClient[] = [];

  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((c) => c.close()));
    await Promise.allSettled(sims.splice(0).map((s) => s.stop()));
  });

  async function fresh(): Promise<{ sim: ChSim; api: ChApiClient }> {
    const sim = await startChSim();
    sims.push(sim);
    const api = new ChApiClient(sim.socketPath);
    clients.push(api);
    return { sim, api };
  }

  it('answers vmm.ping with a CH-shaped version that says it is the simulator', async () => {
    const { sim, api } = await fresh();
    const ping = await api.ping();
    expect(ping.version).toBe('53.0.0');
    expect(ping.build_version).toContain('hangar-sim');
    expect(ping.pid).toBe(sim.child.pid);
    expect(await sim.log()).toMatch(/hangar CH simulator .* not a VMM/);
  });

  it('runs create, boot, pause, resume, shutdown (back to Created, config kept), boot again and delete', async () => {
    const { api } = await fresh();
    await api.create(testVmConfig());
    expect((await api.info()).state).toBe('Created');
    await api.boot();
    const info = await api.info();
    expect(info.state).toBe('Running');
    expect(info.memory_actual_size).toBe(128 * MIB);
    expect(info.config.disks?.[0]).toMatchObject({ path: '/nonexistent/rootfs.img', id: 'rootfs' });
    await api.pause();
    expect((await api.info()).state).toBe('Paused');
    await api.resume();
    await api.shutdown();
    const afterShutdown = await api.info();
    expect(afterShutdown.state).toBe('Created');
    expect(afterShutdown.config.disks?.[0]?.path).toBe('/nonexistent/rootfs.img');
    await api.boot();
    expect((await api.info()).state).toBe('Running');
    await api.delete();
    expect((await rejection(api.info())).status).toBe(404);
    // With the config gone, a new one can be created.
    await api.create(testVmConfig());
  });

  it('names devices without an id when it boots the VM, not when the config is created', async () => {
    const { api } = await fresh();
    await api.create(testVmConfig({ disks: [{ path: '/d0' }], net: [{ tap: 'tap0' }] }));
    expect((await api.info()).config.disks?.[0]?.id).toBeUndefined();
    await api.boot();
    const config = (await api.info()).config;
    expect(config.disks?.[0]?.id).toBe('_disk0');
    expect(config.net?.[0]?.id).toBe('_net1');
    expect(Object.keys(await api.counters()).sort()).toEqual(['_disk0', '_net1']);
  });

  it('adds NICs to a config (204) and hot-plugs them into a VM (200 with the PCI address), removes them', async () => {
    const { api } = await fresh();
    await api.create(testVmConfig());
    expect(await api.addNet({ tap: 'tap1', id: 'cold0' })).toBeUndefined();
    await api.boot();
    const added = await api.addNet({ tap: 'tap2', mac: '02:fc:00:00:00:06', id: 'hot0' });
    expect(added).toMatchObject({ id: 'hot0', bdf: expect.stringMatching(/^0000:00:[0-9a-f]{2}\.0$/) });
    const generated = await api.addNet({ tap: 'tap3' });
    expect(generated?.id).toMatch(/^_net\d+$/);
    await api.removeDevice({ id: 'hot0' });
    expect((await api.info()).config.net?.map((n) => n.id)).toEqual(['net0', 'cold0', generated?.id]);
    expect((await rejection(api.removeDevice({ id: 'hot0' }))).status).toBe(404);
  });

  it('resizes as CH: a running VM within its limits, RAM written to memory.size (ACPI hot-plug)', async () => {
    const { api } = await fresh();
    await api.create(testVmConfig());
    await api.boot();
    await api.resize({ desired_vcpus: 2 });
    await api.resize({ desired_ram: 256 * MIB });
    await api.resize({ desired_balloon: 64 * MIB });
    const info = await api.info();
    expect(info.config.cpus?.boot_vcpus).toBe(2);
    expect(info.config.memory?.size).toBe(256 * MIB);
    expect(info.memory_actual_size).toBe(192 * MIB);
    const tooMany = await rejection(api.resize({ desired_vcpus: 3 }));
    expect(tooMany.errorChain.at(-1)).toBe('Requested vCPUs exceed maximum');
    const tooMuch = await rejection(api.resize({ desired_ram: 512 * MIB }));
    expect(tooMuch.errorChain.at(-1)).toBe('Not enough space in the hotplug RAM region');
  });

  it('resizes a memory zone in a config, and refuses to shrink one below its size in a VM', async () => {
    const { sim } = await fresh();
    const memory = { size: 128 * MIB, zones: [{ id: 'zone0', size: 128 * MIB, hotplug_size: 128 * MIB }] };
    await rawChCall(sim.socketPath, 'PUT', 'vm.create', JSON.stringify(testVmConfig({ memory })));
    const put = (size: number) =>
      rawChCall(sim.socketPath, 'PUT', 'vm.resize-zone', JSON.stringify({ id: 'zone0', desired_ram: size }));
    expect((await put(64 * MIB)).status).toBe(204);
    await rawChCall(sim.socketPath, 'PUT', 'vm.boot');
    const shrink = await put(32 * MIB);
    expect(shrink.status).toBe(500);
    expect(JSON.parse(shrink.text).at(-1)).toBe(
      `Invalid resize request: desired_size = ${32 * MIB} below boot size = ${64 * MIB}`,
    );
    expect((await put(128 * MIB)).status).toBe(204);
  });

  it('power button: a running guest powers off and the VMM exits 0; a paused one when resumed', async () => {
    const running = await fresh();
    await running.api.create(testVmConfig());
    await running.api.boot();
    const counters = await running.api.counters();
    expect(Object.keys(counters).sort()).toEqual(['net0', 'rootfs']);
    await running.api.powerButton();
    expect(await running.sim.exited).toEqual({ code: 0, signal: null });

    const paused = await fresh();
    await paused.api.create(testVmConfig());
    await paused.api.boot();
    await paused.api.pause();
    await paused.api.powerButton();
    expect((await paused.api.info()).state).toBe('Paused');
    await paused.api.resume();
    expect(await paused.sim.exited).toEqual({ code: 0, signal: null });
  });

  it('refuses, beyond CH, a VmConfig the API spec forbids, saying so (400, CH first link kept)', async () => {
    const { sim, api } = await fresh();
    const put = async (body: string) => {
      const response = await rawChCall(sim.socketPath, 'PUT', 'vm.create', body);
      return { status: response.status, chain: JSON.parse(response.text) as string[] };
    };
    const badCpus = await put(
      JSON.stringify({ payload: { kernel: '/k' }, cpus: { boot_vcpus: 0, max_vcpus: 1 } }),
    );
    expect(badCpus.status).toBe(400);
    expect(badCpus.chain[0]).toBe('Failed to deserialize JSON');
    expect(badCpus.chain[1]).toMatch(/cpus\.boot_vcpus.*hangar simulator/);
    const badJson = await put('{"payload":');
    expect(badJson).toEqual({
      status: 400,
      chain: ['Failed to deserialize JSON', 'EOF while parsing a value at line 1 column 11'],
    });
    await expect(api.info()).rejects.toMatchObject({ status: 404 });
  });
});
