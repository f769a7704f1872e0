import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HangarEvent } from '../../src/events/event-schemas.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { snapshotBatch } from '../../src/producer/snapshot-batch.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

const SANDBOXES = 50;

// Three host workers on one machine (each its own state dir and network prefix), the CH simulator as VMM.
describe('batch snapshot of 50 sandboxes across 3 workers [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['b1', 'b2', 'b3'],
      network: { prefix: 'hgbt', octet: 170 },
      worker: { concurrency: 6, poolSize: 0 },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 180_000);

  it('snapshots every sandbox but the failing one, lists that failure, and reports progress', async () => {
    const { client } = fleet;
    const handles = [];
    for (let index = 0; index < SANDBOXES; index += 1) {
      handles.push(
        await client.create({ template: 'base', vcpus: 1, memoryMib: 128, labels: { batch: 'yes' } }),
      );
    }
    const ids = (await Promise.all(handles.map((handle) => handle.result(120_000)))).map((r) =>
      String(r.sandboxId),
    );
    const hosts = new Set((await client.list({ labels: { batch: 'yes' } })).map((record) => record.hostId));
    expect(hosts.size).toBe(3);

    // One sandbox's VMM dies before the batch: its snapshot fails for good (it is crashed).
    const victim = ids[7]!;
    const victimHost = fleet.workers.find((worker) => worker.ctx.ledger.get(victim) !== undefined)!;
    process.kill(victimHost.ctx.vms.get(victim).pid!, 'SIGKILL');
    for (let i = 0; i < 50 && (await client.get(victim))?.state !== 'crashed'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await client.get(victim))?.state).toBe('crashed');

    const progress: HangarEvent[] = [];
    const abort = new AbortController();
    const reading = (async () => {
      for await (const { event } of client.events({ signal: abort.signal, blockMs: 100 })) {
        if (event.type === 'batch.progress') progress.push(event);
      }
    })();
    const batch = await snapshotBatch(client, ids, { concurrencyPerHost: 3, batchId: 'batch-t1' });
    const result = (await batch.parent.result(180_000)) as {
      snapshots: { sandboxId: string; snapshotId: string }[];
      failures: { jobId: string; sandboxId: string; reason: string }[];
    };
    abort.abort();
    await reading;

    expect(result.snapshots).toHaveLength(SANDBOXES - 1);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]?.sandboxId).toBe(victim);
    expect(result.failures[0]?.reason).toContain('crashed');
    expect(new Set(result.snapshots.map((line) => line.sandboxId)).has(victim)).toBe(false);
    for (const line of result.snapshots.slice(0, 5)) {
      expect(await internalsOf(client).store.getSnapshot(line.snapshotId)).toMatchObject({
        sandboxId: line.sandboxId,
      });
    }
    const last = progress.at(-1);
    expect(last).toMatchObject({ done: SANDBOXES - 1, failed: 1, total: SANDBOXES });
    // Snapshots resumed every sandbox they paused.
    const states = new Set(
      (await client.list({ labels: { batch: 'yes' } }))
        .filter((r) => r.sandboxId !== victim)
        .map((r) => r.state),
    );
    expect([...states]).toEqual(['running']);

    await Promise.all(ids.map(async (id) => (await client.destroy(id)).result(60_000)));
  }, 240_000);
});
