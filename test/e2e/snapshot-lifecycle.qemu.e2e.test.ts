import { access } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { TemplateCatalog } from '../../src/templates/template-catalog.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';
import { bump, diskCounter } from './guest-http.ts';
import { qemuAvailable, testGuestTemplate } from './guest-template.ts';

const QEMU = await qemuAvailable();

// Snapshots as a lifecycle on real QEMU (TCG): deletion, a nightly series' retention, a group
// snapshot and its restore (memory and disk continue), and a refused restore on a host whose
// recorded CPU lacks a flag. The worker's CPU is given (not read from /proc) so a restart can
// stand in for an older CPU.
describe.skipIf(!QEMU.ok)(
  `snapshots as a lifecycle on a real VMM (QEMU TCG, real kernel)${QEMU.ok ? '' : `: skipped, ${QEMU.reason}`}`,
  () => {
    const cpu = { model: 'Test CPU', flags: ['fpu', 'sse2', 'avx2'] };
    let fleet: TestFleet;
    const ids: string[] = [];

    beforeAll(async () => {
      fleet = await startTestFleet({
        hosts: ['sq1'],
        network: { prefix: 'hgsq', octet: 146 },
        templates: new TemplateCatalog([await testGuestTemplate()]),
        worker: { vmm: 'qemu', poolSize: 2, concurrency: 4, cpu, maintenanceMs: 1_000 },
      });
      const handles = await Promise.all(
        [0, 1].map(() =>
          fleet.client.create({ template: 'guest', vcpus: 1, memoryMib: 256, labels: { e2e: 'snap' } }),
        ),
      );
      for (const handle of handles) ids.push((await handle.result(180_000)).sandboxId);
    }, 240_000);

    afterAll(async () => {
      await fleet?.stop();
    }, 120_000);

    it('deletes a snapshot: its record, ledger entry and files go, and a restore of it is refused', async () => {
      const { client } = fleet;
      const { snapshotId } = await (await client.snapshot(ids[0]!)).result(120_000);
      const dir = fleet.workers[0]!.ctx.paths.snapshotDir(snapshotId);
      await access(dir);
      const removed = await (await client.deleteSnapshot(snapshotId)).result(60_000);
      expect(removed.freedBytes).toBeGreaterThan(0);
      await expect(access(dir)).rejects.toThrow();
      await expect(client.restore(snapshotId)).rejects.toMatchObject({ code: ErrorCode.NotFound });
    }, 200_000);

    it('a nightly series keeps each sandbox’s last two snapshots', async () => {
      const { client } = fleet;
      for (let night = 1; night <= 3; night += 1) {
        const batch = await client.snapshotBatch(
          { labels: { e2e: 'snap' } },
          { batchId: `e2e-night-${night}`, series: 'e2e-nightly', retention: { keepLast: 2 } },
        );
        expect((await batch.parent.result(300_000)).snapshots).toHaveLength(2);
      }
      for (const id of ids) {
        await pollUntil(
          `${id} to keep its last two nightly snapshots`,
          async () => {
            const kept = await client.listSnapshots({ sandboxId: id, series: 'e2e-nightly' });
            return kept.length === 2 && kept.every((s) => s.batchId !== 'e2e-night-1') ? true : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 100 },
        );
      }
    }, 600_000);

    it('snapshots both sandboxes at one barrier and restores the group: each clone continues its own counter and disk', async () => {
      const { client } = fleet;
      const addresses = await Promise.all(ids.map(async (id) => (await client.get(id))!.address!));
      const counters = await Promise.all(addresses.map(bump));
      const group = await client.snapshotGroup(ids, { groupId: 'e2e-group' });
      const taken = await group.result.result(300_000);
      expect(taken.snapshots).toHaveLength(2);
      for (const member of taken.snapshots) expect(member.pausedMs).toBeGreaterThan(0);
      // Both run again, and go on counting past the snapshot.
      for (const [index, address] of addresses.entries()) {
        expect((await bump(address)).counter).toBeGreaterThan(counters[index]!.counter);
      }
      const clones = await Promise.all(
        (await client.restoreGroup('e2e-group')).map((h) => h.result(300_000)),
      );
      for (const [index, clone] of clones.entries()) {
        // Memory: the clone's counter continues from the snapshot's, not the original's present.
        expect((await bump(clone.address!)).counter).toBe(counters[index]!.counter + 1);
        expect(await diskCounter(clone.address!)).toBe(counters[index]!.counter + 1);
      }
      for (const clone of clones) await (await client.destroy(clone.sandboxId)).result(60_000);
    }, 600_000);

    it('refuses a restore on a host whose recorded CPU lacks a flag the snapshot was taken with', async () => {
      const { client } = fleet;
      const { snapshotId } = await (await client.snapshot(ids[1]!)).result(120_000);
      await fleet.workers[0]!.stop();
      await fleet.startWorker('sq1', { cpu: { model: 'Older CPU', flags: ['fpu', 'sse2'] } });
      const refused = (await client.restore(snapshotId)).result(120_000);
      await expect(refused).rejects.toMatchObject({ code: ErrorCode.Incompatible });
      await expect(refused).rejects.toThrow(/lacks avx2/);
      for (const id of ids) await (await client.destroy(id)).result(60_000);
    }, 300_000);
  },
);
