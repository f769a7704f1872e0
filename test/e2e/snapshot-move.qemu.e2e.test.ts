import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemplateCatalog } from '../../src/templates/template-catalog.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';
import { bump, diskCounter } from './guest-http.ts';
import { qemuAvailable, testGuestTemplate } from './guest-template.ts';

const QEMU = await qemuAvailable();
const KEY = randomBytes(32).toString('hex');

// Two workers on this machine, each with its own state dir, network range and transfer
// port, on real QEMU (TCG): a snapshot taken on one host restores on the other (fetched from
// its home over the transfer server) and its guest goes on counting there; an exported
// archive imported on the other host under a new id restores the same way.
describe.skipIf(!QEMU.ok)(
  `snapshots move between hosts on a real VMM (QEMU TCG, real kernel)${QEMU.ok ? '' : `: skipped, ${QEMU.reason}`}`,
  () => {
    let fleet: TestFleet;
    let sandboxId: string;
    let home: string;
    let other: string;

    beforeAll(async () => {
      fleet = await startTestFleet({
        hosts: ['mq1', 'mq2'],
        network: { prefix: 'hgmq', octet: 111, halves: true },
        templates: new TemplateCatalog([await testGuestTemplate()]),
        worker: { vmm: 'qemu', poolSize: 1, concurrency: 2, transfer: { port: 0, listen: '127.0.0.1' } },
        jobKey: KEY,
        client: { jobKey: KEY },
      });
      const created = await (
        await fleet.client.create({ template: 'guest', vcpus: 1, memoryMib: 256 })
      ).result(180_000);
      sandboxId = created.sandboxId;
      home = created.hostId;
      other = home === 'mq1' ? 'mq2' : 'mq1';
    }, 240_000);

    afterAll(async () => {
      await fleet?.stop();
    }, 120_000);

    const workerOf = (hostId: string) => fleet.workers.findLast((w) => w.config.hostId === hostId)!;

    it('restores on the other host: the guest’s counter and disk continue there', async () => {
      const { client } = fleet;
      const address = (await client.get(sandboxId))!.address!;
      const before = await bump(address);
      const { snapshotId } = await (await client.snapshot(sandboxId)).result(120_000);
      const record = (await client.getSnapshot(snapshotId))!;
      const sentBefore = workerOf(home).transfer!.bytes.sent;
      const moved = await (await client.restore(snapshotId, { elsewhere: true })).result(300_000);
      expect(moved.hostId).toBe(other);
      const sent = workerOf(home).transfer!.bytes.sent - sentBefore;
      // Sparse and whole: no more than what the snapshot really uses, plus the archive's headers.
      expect(sent).toBeGreaterThan(0);
      expect(sent).toBeLessThan(record.memoryBytes + record.diskBytes + 1024 * 1024);
      const after = await bump(moved.address!);
      expect(after.counter).toBeGreaterThan(before.counter);
      expect(after.counter).toBeLessThanOrEqual(before.counter + 2);
      expect(await diskCounter(moved.address!)).toBe(after.counter);
      await (await client.destroy(moved.sandboxId)).result(60_000);
      await (await client.deleteSnapshot(snapshotId)).result(60_000);
    }, 600_000);

    it('exports a snapshot and imports it on the other host under a new id, where it restores', async () => {
      const { client } = fleet;
      const address = (await client.get(sandboxId))!.address!;
      const before = await bump(address);
      const { snapshotId } = await (await client.snapshot(sandboxId)).result(120_000);
      const { archive } = await client.exportSnapshot(snapshotId);
      const chunks: Buffer[] = [];
      for await (const chunk of archive) chunks.push(chunk as Buffer);
      const imported = await client.importSnapshot(
        (async function* () {
          yield* chunks;
        })(),
        { hostId: other, snapshotId: `${snapshotId}-imp` },
      );
      expect(imported.snapshot).toMatchObject({ hostId: other, snapshotId: `${snapshotId}-imp` });
      const restored = await (await client.restore(`${snapshotId}-imp`)).result(300_000);
      expect(restored.hostId).toBe(other);
      const after = await bump(restored.address!);
      expect(after.counter).toBeGreaterThan(before.counter);
      expect(after.counter).toBeLessThanOrEqual(before.counter + 2);
      expect(await diskCounter(restored.address!)).toBe(after.counter);
      for (const id of [restored.sandboxId, sandboxId]) await (await client.destroy(id)).result(60_000);
      for (const id of [snapshotId, `${snapshotId}-imp`])
        await (await client.deleteSnapshot(id)).result(60_000);
    }, 600_000);
  },
);
