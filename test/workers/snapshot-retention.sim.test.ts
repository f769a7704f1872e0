import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

// One host with a fast maintenance pass, so garbage collection and retention are seen at work.
describe('snapshot retention, garbage collection and accounting [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['rt1'],
      network: { prefix: 'hgrt', octet: 142 },
      worker: { poolSize: 2, maintenanceMs: 500, heartbeatMs: 200 },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('a nightly series keeps each sandbox’s last two snapshots, whatever runs each night', async () => {
    const { client } = fleet;
    const ids = [];
    for (let i = 0; i < 2; i += 1) {
      ids.push(
        (
          await (
            await client.create({ template: 'base', vcpus: 1, memoryMib: 128, labels: { nightly: 'yes' } })
          ).result()
        ).sandboxId,
      );
    }
    for (let night = 1; night <= 3; night += 1) {
      const batch = await client.snapshotBatch(
        { labels: { nightly: 'yes' } },
        {
          batchId: `night-${night}`,
          series: 'nightly',
          retention: { keepLast: 2 },
        },
      );
      expect((await batch.parent.result()).snapshots).toHaveLength(2);
    }
    for (const id of ids) {
      const kept = await pollUntil(
        `sandbox ${id} to keep two nightly snapshots`,
        async () => {
          const left = await client.listSnapshots({ sandboxId: id, series: 'nightly' });
          return left.length === 2 ? left : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 50 },
      );
      expect(kept.map((s) => s.batchId).sort()).toEqual(['night-2', 'night-3']);
    }
    const worker = fleet.workers[0]!;
    // Records go first, files last: wait for the files of the first night to go too.
    for (const id of ids) {
      await pollUntil(
        `night 1's snapshot files of ${id} to go`,
        async () =>
          access(worker.ctx.paths.snapshotDir(`night-1-${id}`)).then(
            () => undefined,
            () => true,
          ),
        { timeoutMs: 10_000, intervalMs: 50 },
      );
    }
    expect(worker.ctx.ledger.snapshots()).toHaveLength(4);
    for (const id of ids) await (await client.destroy(id)).result();
  });

  it('collects stray snapshot directories, restores lost records from manifests, and reports snapshot bytes and free disk', async () => {
    const { client } = fleet;
    const worker = fleet.workers[0]!;
    const stray = worker.ctx.paths.snapshotDir('stray-snap');
    await mkdir(stray, { recursive: true });
    await writeFile(join(stray, 'junk'), 'left by a job that died before recording its snapshot');
    const [kept] = worker.ctx.ledger.snapshots();
    const store = internalsOf(client).store;
    const record = (await store.getSnapshot(kept!))!;
    await store.snapshots.remove(record);
    await pollUntil(
      'the stray directory to go',
      async () =>
        await access(stray).then(
          () => undefined,
          () => true,
        ),
      {
        timeoutMs: 10_000,
        intervalMs: 50,
      },
    );
    await pollUntil('the lost record to come back', async () => await store.getSnapshot(kept!), {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const beat = await pollUntil(
      'a heartbeat with the snapshots',
      async () => {
        const b = await store.hosts.heartbeatOf('rt1');
        return b?.snapshots.count === 4 ? b : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(beat.snapshots.bytes).toBeGreaterThan(0);
    expect(beat.disk?.freeBytes).toBeGreaterThan(0);
    expect(beat.cpu?.flags.length).toBeGreaterThan(0);
  });
});
