import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChApiClient } from '../../../src/vmm/cloud-hypervisor/api-client.ts';
import { ChApiError } from '../../../src/vmm/cloud-hypervisor/api-errors.ts';
import { VmConfig } from '../../../src/vmm/cloud-hypervisor/schemas/index.ts';
import { type ChSim, startChSim, testVmConfig } from '../../support/ch-sim.ts';

const MIB = 1024 * 1024;

describe('CH simulator stand-in: snapshot and restore', () => {
  const sims: ChSim[] = [];
  const clients: ChApiClient[] = [];

  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((c) => c.close()));
    // The first sim owns the temp dir the others share: stop it last.
    await Promise.allSettled(
      sims
        .splice(0)
        .reverse()
        .map((s) => s.stop()),
    );
  });

  async function sim(
    options: Parameters<typeof startChSim>[0] = {},
  ): Promise<{ sim: ChSim; api: ChApiClient }> {
    const started = await startChSim(options);
    sims.push(started);
    const api = new ChApiClient(started.socketPath);
    clients.push(api);
    return { sim: started, api };
  }

  /** A paused VM with 256 MiB, snapshotted into `<dir>/<name>`. */
  async function snapshotOf(api: ChApiClient, dir: string, name = 'snap'): Promise<string> {
    await api.create(testVmConfig({ memory: { size: 256 * MIB, thp: false } }));
    await api.boot();
    await api.pause();
    const snapDir = join(dir, name);
    await mkdir(snapDir);
    await api.snapshot({ destination_url: `file://${snapDir}` });
    return snapDir;
  }

  it('writes config.json (compact, as CH), state.json and a sparse memory-ranges of the guest RAM size', async () => {
    const { sim: source, api } = await sim();
    const dir = await snapshotOf(api, source.dir);
    const config = VmConfig.parse(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')));
    expect(config.disks?.[0]?.path).toBe('/nonexistent/rootfs.img');
    expect(await readFile(join(dir, 'config.json'), 'utf8')).toMatch(/^\{"cpus":/);
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'));
    expect(state).toMatchObject({ vm_state: 'Paused', generation: 1, hangar_sim: true });
    expect(typeof state.booted_at).toBe('string');
    const memory = await stat(join(dir, 'memory-ranges'));
    expect(memory.size).toBe(256 * MIB);
    expect(memory.blocks * 512).toBeGreaterThan(0);
    expect(memory.blocks * 512).toBeLessThan(memory.size / 100);
    expect((await api.info()).state).toBe('Paused');
  });

  it('refuses a snapshot into a directory that does not exist, and over an existing one, with 500', async () => {
    const { sim: source, api } = await sim();
    await api.create(testVmConfig());
    await api.boot();
    await api.pause();
    const error = await api
      .snapshot({ destination_url: `file://${join(source.dir, 'missing')}` })
      .catch((e) => e);
    expect(error).toBeInstanceOf(ChApiError);
    expect(error.status).toBe(500);
    expect(error.errorChain.at(-1)).toBe(`Destination is not a directory: "${join(source.dir, 'missing')}"`);
    const dir = join(source.dir, 'snap');
    await mkdir(dir);
    await api.snapshot({ destination_url: `file://${dir}` });
    const again = await api.snapshot({ destination_url: `file://${dir}` }).catch((e) => e);
    expect(again.errorChain.slice(-2)).toEqual([
      'Error creating VM config snapshot file',
      'File exists (os error 17)',
    ]);
    expect((await api.info()).state).toBe('Paused');
  });

  it('restores into a second process with --restore: paused by default, config from config.json', async () => {
    const { sim: source, api } = await sim();
    const dir = await snapshotOf(api, source.dir);
    const sourceInfo = await api.info();
    const { sim: target, api: restored } = await sim({
      dir: await freshDir(source.dir, 'target'),
      args: ['--restore', `source_url=file://${dir},prefault=off,memory_restore_mode=copy`],
    });
    expect(target.child.pid).not.toBe(source.child.pid);
    const info = await restored.info();
    expect(info.state).toBe('Paused');
    expect(info.config).toEqual(sourceInfo.config);
    await restored.resume();
    expect((await restored.info()).state).toBe('Running');
  });

  it('restores running with resume=true, and snapshots again with the next generation', async () => {
    const { sim: source, api } = await sim();
    const dir = await snapshotOf(api, source.dir);
    const { api: restored } = await sim({
      dir: await freshDir(source.dir, 'target'),
      args: ['--restore', `source_url=file://${dir},resume=true`],
    });
    expect((await restored.info()).state).toBe('Running');
    await restored.pause();
    const again = await snapshotAgain(restored, source.dir);
    expect(JSON.parse(await readFile(join(again, 'state.json'), 'utf8')).generation).toBe(2);
  });

  it('restores through vm.restore into an empty VMM, and refuses one that has a VM', async () => {
    const { sim: source, api } = await sim();
    const dir = await snapshotOf(api, source.dir);
    const { api: target } = await sim({ dir: await freshDir(source.dir, 'target') });
    await target.restore({
      source_url: `file://${dir}`,
      prefault: false,
      memory_restore_mode: 'OnDemand',
      resume: false,
    });
    expect((await target.info()).state).toBe('Paused');
    const twice = await target.restore({ source_url: `file://${dir}` }).catch((e) => e);
    expect(twice).toMatchObject({ status: 500 });
    expect(twice.errorChain.join(' ')).toMatch(/already created/);
  });

  it('refuses (500) a snapshot directory missing any of its three files', async () => {
    const { sim: source, api } = await sim();
    const dir = await snapshotOf(api, source.dir);
    const { api: target } = await sim({ dir: await freshDir(source.dir, 'target') });
    await rm(join(dir, 'state.json'));
    const error = await target.restore({ source_url: `file://${dir}` }).catch((e) => e);
    expect(error).toMatchObject({ status: 500 });
    expect(error.errorChain.at(-2)).toBe(`Error opening VM state snapshot file "${join(dir, 'state.json')}"`);
    await expect(target.info()).rejects.toMatchObject({ status: 404 });
  });

  it('exits 1 when --restore names an incomplete snapshot', async () => {
    const { sim: source } = await sim();
    const empty = await freshDir(source.dir, 'empty-snap');
    const failing = await startChSim({
      dir: await freshDir(source.dir, 'target'),
      args: ['--restore', `source_url=file://${empty}`],
      waitReady: false,
    });
    sims.push(failing);
    expect((await failing.exited).code).toBe(1);
    expect(await failing.log()).toMatch(/restore .* failed/);
  });

  async function snapshotAgain(api: ChApiClient, base: string): Promise<string> {
    const dir = await freshDir(base, 'snap2');
    await api.snapshot({ destination_url: `file://${dir}` });
    return dir;
  }
});

async function freshDir(base: string, name: string): Promise<string> {
  const dir = join(base, name);
  await mkdir(dir, { recursive: true });
  return dir;
}
