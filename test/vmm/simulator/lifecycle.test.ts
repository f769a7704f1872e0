import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChApiClient } from '../../../src/vmm/cloud-hypervisor/api-client.ts';
import { ChApiError } from '../../../src/vmm/cloud-hypervisor/api-errors.ts';
import { type ChSim, rawChCall, startChSim, testVmConfig } from '../../support/ch-sim.ts';

const MIB = 1024 * 1024;
const vmConfig = testVmConfig;

async function rejection(promise: Promise<unknown>): Promise<ChApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChApiError);
  return error as ChApiError;
}

describe('CH simulator stand-in: state machine and status codes', () => {
  let sim: ChSim;
  let api: ChApiClient;

  beforeAll(async () => {
    sim = await startChSim();
    api = new ChApiClient(sim.socketPath);
  });

  afterEach(async () => {
    // Each test starts from an empty VMM; delete is harmless when there is no VM.
    await api.delete();
  });

  afterAll(async () => {
    await api?.close();
    await sim?.stop();
  });

  it('answers vmm.ping with a CH-shaped version that says it is the simulator', async () => {
    const ping = await api.ping();
    expect(ping.version).toBe('53.0.0');
    expect(ping.build_version).toContain('hangar-sim');
    expect(ping.pid).toBe(sim.child.pid);
    expect(await sim.log()).toMatch(/hangar CH simulator .* not a VMM/);
  });

  it('runs create, boot, info, pause, resume, shutdown, boot again and delete', async () => {
    await api.create(vmConfig());
    expect((await api.info()).state).toBe('Created');
    await api.boot();
    const info = await api.info();
    expect(info.state).toBe('Running');
    expect(info.memory_actual_size).toBe(128 * MIB);
    expect(info.config.disks?.[0]).toMatchObject({ path: '/nonexistent/rootfs.img', id: 'rootfs' });
    await api.pause();
    expect((await api.info()).state).toBe('Paused');
    await api.resume();
    expect((await api.info()).state).toBe('Running');
    await api.shutdown();
    expect((await api.info()).state).toBe('Shutdown');
    await api.boot();
    expect((await api.info()).state).toBe('Running');
    await api.delete();
    expect((await rejection(api.info())).status).toBe(404);
  });

  it('answers 404 "VM is not created" to every VM call when there is no VM', async () => {
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['vm.info', () => api.info()],
      ['vm.boot', () => api.boot()],
      ['vm.pause', () => api.pause()],
      ['vm.resume', () => api.resume()],
      ['vm.shutdown', () => api.shutdown()],
      ['vm.counters', () => api.counters()],
      ['vm.power-button', () => api.powerButton()],
      ['vm.resize', () => api.resize({ desired_vcpus: 2 })],
      ['vm.snapshot', () => api.snapshot({ destination_url: `file://${sim.dir}` })],
      ['vm.add-net', () => api.addNet({ tap: 'tap9' })],
      ['vm.remove-device', () => api.removeDevice({ id: 'net0' })],
    ];
    for (const [endpoint, call] of calls) {
      const error = await rejection(call());
      expect({ endpoint, status: error.status }).toEqual({ endpoint, status: 404 });
      expect(error.endpoint).toBe(endpoint);
      expect(error.errorChain.at(-1)).toBe('VM is not created');
      expect(error.code).toBe('E_VMM_API');
    }
  });

  it('answers every illegal transition with 500 and an error chain, never 405', async () => {
    const expect500 = async (call: Promise<unknown>, why: RegExp) => {
      const error = await rejection(call);
      expect(error.status).toBe(500);
      expect(error.errorChain[0]).toBe('Error from API');
      expect(error.errorChain.join(': ')).toMatch(why);
    };
    await api.create(vmConfig());
    // Created
    await expect500(api.create(vmConfig()), /already created/);
    await expect500(api.pause(), /not running/);
    await expect500(api.resume(), /not paused/);
    await expect500(api.snapshot({ destination_url: `file://${sim.dir}` }), /not paused/);
    await expect500(api.powerButton(), /not running/);
    await expect500(api.counters(), /not running/);
    // Running
    await api.boot();
    await expect500(api.boot(), /already booted/);
    await expect500(api.resume(), /not paused/);
    await expect500(api.snapshot({ destination_url: `file://${sim.dir}` }), /not paused/);
    await expect500(api.restore({ source_url: `file://${sim.dir}` }), /already created/);
    // Paused
    await api.pause();
    await expect500(api.pause(), /already paused/);
    await expect500(api.boot(), /already booted/);
    await expect500(api.powerButton(), /not running/);
    // Shutdown
    await api.shutdown();
    await expect500(api.shutdown(), /already shut down/);
    await expect500(api.pause(), /not running/);
    await expect500(api.resume(), /not paused/);
    expect((await api.info()).state).toBe('Shutdown');
  });

  it('answers 400 naming the field for an invalid VmConfig, and 400 for bad JSON', async () => {
    // Sent raw: the client would refuse to send these.
    const put = async (body: string) => {
      const response = await rawChCall(sim.socketPath, 'PUT', 'vm.create', body);
      return { status: response.status, chain: JSON.parse(response.text) as string[] };
    };
    const badCpus = await put(
      JSON.stringify({ payload: { kernel: '/k' }, cpus: { boot_vcpus: 0, max_vcpus: 1 } }),
    );
    expect(badCpus.status).toBe(400);
    expect(badCpus.chain.join('\n')).toMatch(/cpus\.boot_vcpus/);
    const badMode = await put(JSON.stringify({ payload: { kernel: '/k' }, console: { mode: 'Bogus' } }));
    expect(badMode.status).toBe(400);
    expect(badMode.chain.join('\n')).toMatch(/console\.mode/);
    const noPayload = await put('{}');
    expect(noPayload.chain.join('\n')).toMatch(/payload/);
    const badJson = await put('{"payload":');
    expect(badJson.status).toBe(400);
    await expect(api.info()).rejects.toMatchObject({ status: 404 });
  });

  it('hot-plugs and removes NICs, 409 for a duplicate id, 404 for an unknown one', async () => {
    await api.create(vmConfig());
    // Cold add on a created VM: CH answers 204 and only edits the config.
    expect(await api.addNet({ tap: 'tap1', id: 'cold0' })).toBeUndefined();
    await api.boot();
    const added = await api.addNet({ tap: 'tap2', mac: '02:fc:00:00:00:06', id: 'hot0' });
    expect(added).toMatchObject({ id: 'hot0', bdf: expect.stringMatching(/^0000:00:[0-9a-f]{2}\.0$/) });
    const generated = await api.addNet({ tap: 'tap3' });
    expect(generated?.id).toMatch(/^_net\d+$/);
    const duplicate = await rejection(api.addNet({ tap: 'tap4', id: 'net0' }));
    expect(duplicate.status).toBe(409);
    await api.removeDevice({ id: 'hot0' });
    expect((await api.info()).config.net?.map((n) => n.id)).toEqual(['net0', 'cold0', generated?.id]);
    expect((await rejection(api.removeDevice({ id: 'hot0' }))).status).toBe(404);
  });

  it('resizes vCPUs, RAM and the balloon, refusing sizes beyond the limits', async () => {
    await api.create(vmConfig());
    await api.boot();
    await api.resize({ desired_vcpus: 2 });
    await api.resize({ desired_ram: 256 * MIB });
    await api.resize({ desired_balloon: 64 * MIB });
    const info = await api.info();
    expect(info.config.cpus?.boot_vcpus).toBe(2);
    expect(info.config.memory?.hotplugged_size).toBe(128 * MIB);
    expect(info.memory_actual_size).toBe(192 * MIB);
    expect((await rejection(api.resize({ desired_vcpus: 3 }))).status).toBe(500);
    expect((await rejection(api.resize({ desired_ram: 512 * MIB }))).status).toBe(500);
  });

  it('reports counters per device and powers off on the power button', async () => {
    await api.create(vmConfig());
    await api.boot();
    const counters = await api.counters();
    expect(Object.keys(counters).sort()).toEqual(['net0', 'rootfs']);
    expect(counters.rootfs).toHaveProperty('read_bytes');
    expect(counters.net0).toHaveProperty('tx_frames');
    await api.powerButton();
    expect((await api.info()).state).toBe('Shutdown');
  });
});
