import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { HostLedger } from '../../src/state/host-ledger.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';
import { useKillableWorker } from '../support/killable-worker.ts';

// One host whose worker keeps two 1 vCPU / 128 MiB VMs of `base` booted and paused ahead of demand.
describe('the VM pool [CH simulator stand-in]', () => {
  const host = useKillableWorker({
    identity: { prefix: 'hgvp', octet: 122 },
    vmm: 'simulator',
    worker: {
      pool: { base: { count: 2, vcpus: 1, memoryMib: 128 } },
      capacity: { vcpus: 8, memoryMib: 4096 },
    },
  });
  const ledgerPath = () => join(host.dir, 'state', 'ledger.json');
  const beat = () => internalsOf(host.client).store.hosts.heartbeatOf('hk');
  const poolOf = async () => Object.values((await HostLedger.read(ledgerPath())).pool);
  const fullPool = async () => {
    const pool = await poolOf();
    return pool.length === 2 && pool.every((entry) => entry.state === 'ready') ? pool : undefined;
  };

  it('fills, serves a create of its template and shape from a ready VM, refills, and survives a worker SIGKILL', async () => {
    let { child } = await host.startWorker();
    const first = await pollUntil('the pool to fill', fullPool, { timeoutMs: 30_000, intervalMs: 50 });
    // Reported apart from sandboxes: the capacity left for sandboxes excludes the pool.
    const beaten = await pollUntil(
      'a heartbeat with the pool',
      async () => {
        const b = await beat();
        return b?.pool.base?.ready === 2 ? b : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(beaten.poolUsed).toEqual({ vcpus: 2, memoryMib: 256, slots: 2 });
    expect(beaten.capacity).toMatchObject({ vcpus: 6, memoryMib: 4096 - 256 });
    expect(beaten.used).toEqual({ vcpus: 0, memoryMib: 0, slots: 0 });
    expect(await host.client.list()).toEqual([]);

    const warm = await host.client.create({
      template: 'base',
      vcpus: 1,
      memoryMib: 128,
      labels: { p: 'warm' },
    });
    const created = await warm.result();
    expect(created).toMatchObject({ state: 'running', hostId: 'hk' });
    const taken = (await HostLedger.read(ledgerPath())).sandboxes[created.sandboxId];
    expect(first.map((entry) => entry.vmId)).toContain(taken?.vmId);
    expect(taken?.address).toBe(first.find((entry) => entry.vmId === taken?.vmId)?.address);
    expect(created.address).toBe(taken?.address);
    // The pool builds a new VM in its place.
    const refilled = await pollUntil('the pool to refill', fullPool, { timeoutMs: 30_000, intervalMs: 50 });
    expect(refilled.map((entry) => entry.vmId)).not.toContain(taken?.vmId);

    // Another shape is created cold.
    const cold = await (await host.client.create({ template: 'base', vcpus: 2, memoryMib: 256 })).result();
    expect((await HostLedger.read(ledgerPath())).sandboxes[cold.sandboxId]?.vmId).toBeUndefined();

    // A worker killed with a full pool: the new one keeps the VMs that still run.
    child.kill('SIGKILL');
    await child;
    ({ child } = await host.startWorker());
    await pollUntil(
      'a heartbeat from the new worker with the pool',
      async () => ((await beat())?.pool.base?.ready === 2 ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    expect((await poolOf()).map((entry) => entry.vmId).sort()).toEqual(
      refilled.map((entry) => entry.vmId).sort(),
    );
    const again = await (await host.client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result();
    expect(refilled.map((entry) => entry.vmId)).toContain(
      (await HostLedger.read(ledgerPath())).sandboxes[again.sandboxId]?.vmId,
    );

    for (const id of [created.sandboxId, cold.sandboxId, again.sandboxId]) {
      expect((await (await host.client.destroy(id)).result()).state).toBe('destroyed');
    }
    // A graceful stop tears the pool down: no pool VM, claim or process is left.
    child.kill('SIGTERM');
    await child;
    expect(await poolOf()).toEqual([]);
    const ledger = await HostLedger.read(ledgerPath());
    expect(Object.values(ledger.sandboxes)).toEqual([]);
  }, 120_000);
});

// Two hosts: `pw` keeps one warm VM, `pc` has none and more free memory.
describe('placement and crashes with a VM pool [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['pw', 'pc'],
      network: { prefix: 'hgvq', octet: 124, halves: true },
      worker: { poolSize: 0, heartbeatMs: 200 },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('places a create on the host with a warm VM of its template and shape, and replaces a pool VM that crashes', async () => {
    const { client } = fleet;
    // pc is made the roomier host; pw's worker is restarted with a pool.
    await fleet.workers[0]!.stop();
    const pw = await fleet.startWorker('pw', {
      pool: { base: { count: 1, vcpus: 1, memoryMib: 128 } },
      capacity: { vcpus: 8, memoryMib: 2048 },
    });
    await pw.ctx.pool.waitUntilFull(30_000);
    const store = internalsOf(client).store;
    await pollUntil(
      'pw to advertise its warm VM',
      async () => ((await store.hosts.heartbeatOf('pw'))?.pool.base?.ready === 1 ? true : undefined),
      { timeoutMs: 10_000, intervalMs: 25 },
    );
    const handle = await client.create({ template: 'base', vcpus: 1, memoryMib: 128 });
    expect(handle.hostId).toBe('pw');
    const created = await handle.result();
    expect(pw.ctx.ledger.get(created.sandboxId)?.vmId).toMatch(/^pool-/);
    // Another shape goes by free memory, to pc.
    const other = await client.create({ template: 'base', vcpus: 1, memoryMib: 256 });
    expect(other.hostId).toBe('pc');
    await other.result();

    await pw.ctx.pool.waitUntilFull(30_000);
    const [victim] = pw.ctx.ledger.poolEntries();
    const pid = pw.ctx.vms.get(victim!.vmId).pid!;
    process.kill(pid, 'SIGKILL');
    await pollUntil(
      'the crashed pool VM to be replaced',
      async () => {
        const pool = pw.ctx.ledger.poolEntries();
        return pool.length === 1 && pool[0]!.vmId !== victim!.vmId && pool[0]!.state === 'ready'
          ? true
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    const owners = [...(await pw.ctx.claims.list()).values()].map((claim) => claim.owner);
    expect(owners).not.toContain(victim!.vmId);
    for (const id of [created.sandboxId, other.sandboxId]) await (await client.destroy(id)).result();
  }, 120_000);
});
