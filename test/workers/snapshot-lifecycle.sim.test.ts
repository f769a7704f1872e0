import { access } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

const CPU = { model: 'Test CPU', flags: ['fpu', 'sse2', 'avx2'] };

// One host; its CPU is given (not read from /proc) so a restart can stand in for an older CPU.
describe('snapshots: listing, deletion, compatibility [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['sl1'],
      network: { prefix: 'hgsl', octet: 140 },
      worker: { poolSize: 1, cpu: CPU, vmmEnv: { HANGAR_SIM_LATENCY: 'restore=1200' } },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('lists a snapshot by sandbox and label with its sizes and host CPU, and deletes it once: record, ledger and files', async () => {
    const { client } = fleet;
    const worker = fleet.workers[0]!;
    const sandbox = await (
      await client.create({ template: 'base', vcpus: 1, memoryMib: 128, labels: { team: 'a' } })
    ).result();
    const taken = await (await client.snapshot(sandbox.sandboxId, { snapshotId: 'life-snap-1' })).result();
    const [listed] = await client.listSnapshots({ sandboxId: sandbox.sandboxId });
    expect(listed).toMatchObject({
      snapshotId: 'life-snap-1',
      hostId: 'sl1',
      labels: { team: 'a' },
      memoryBytes: taken.memoryBytes,
      compat: { cpuModel: 'Test CPU', cpuFlags: CPU.flags },
    });
    expect((await client.listSnapshots({ labels: { team: 'a' } })).map((s) => s.snapshotId)).toEqual([
      'life-snap-1',
    ]);
    expect(await client.listSnapshots({ labels: { team: 'b' } })).toEqual([]);

    const removal = await client.deleteSnapshot('life-snap-1', { idempotencyKey: 'rm-life-1' });
    const removed = await removal.result();
    expect(removed).toMatchObject({ outcome: 'done', snapshotId: 'life-snap-1', hostId: 'sl1' });
    expect(removed.freedBytes).toBeGreaterThan(0);
    expect(await client.getSnapshot('life-snap-1')).toBeUndefined();
    expect(await client.listSnapshots({ sandboxId: sandbox.sandboxId })).toEqual([]);
    expect(worker.ctx.ledger.hasSnapshot('life-snap-1')).toBe(false);
    await expect(access(worker.ctx.paths.snapshotDir('life-snap-1'))).rejects.toThrow();
    // A repeat with the key is the same job; without it, there is nothing left to delete.
    expect(
      (await client.deleteSnapshot('life-snap-1', { idempotencyKey: 'rm-life-1' }).catch((e) => e)).code,
    ).toBe(ErrorCode.NotFound);
    await (await client.destroy(sandbox.sandboxId)).result();
  });

  it('a deletion waits for a restore reading the snapshot, which completes', async () => {
    const { client } = fleet;
    const sandbox = await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result();
    await (await client.snapshot(sandbox.sandboxId, { snapshotId: 'life-snap-2' })).result();
    // The simulator takes 1.2 s to restore: the deletion arrives once the restore runs.
    const restore = await client.restore('life-snap-2');
    const worker = fleet.workers[0]!;
    await pollUntil(
      'the restore to run',
      async () => (worker.ctx.ledger.get(restore.sandboxId)?.state === 'restoring' ? true : undefined),
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    const removal = await client.deleteSnapshot('life-snap-2');
    const [restored, removed] = await Promise.all([restore.result(), removal.result()]);
    expect(restored.state).toBe('running');
    expect(removed.outcome).toBe('done');
    for (const id of [sandbox.sandboxId, restored.sandboxId]) await (await client.destroy(id)).result();
  });

  it('refuses a restore on a host whose CPU lacks a flag the snapshot was taken with, naming it', async () => {
    const { client } = fleet;
    const sandbox = await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result();
    await (await client.snapshot(sandbox.sandboxId, { snapshotId: 'life-snap-3' })).result();
    await fleet.workers[0]!.stop();
    const older = await fleet.startWorker('sl1', { cpu: { model: 'Older CPU', flags: ['fpu', 'sse2'] } });
    const failure = (await client.restore('life-snap-3')).result();
    await expect(failure).rejects.toMatchObject({ code: ErrorCode.Incompatible });
    await expect(failure).rejects.toThrow(/lacks avx2/);
    expect(older.ctx.ledger.entries().map((e) => e.sandboxId)).toEqual([sandbox.sandboxId]);
    await (await client.destroy(sandbox.sandboxId)).result();
  });
});
