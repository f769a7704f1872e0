import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

// Fork fan-out: N sandboxes restored at once from one snapshot.
describe('fork fan-out [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['fk1'],
      network: { prefix: 'hgfk', octet: 126 },
      worker: { poolSize: 2 },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('restores one snapshot as N sandboxes, each in its own slot with its own disk, and a repeated key forks nothing more', async () => {
    const { client } = fleet;
    const source = await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result();
    const { snapshotId } = await (await client.snapshot(source.sandboxId)).result();
    const handles = await client.fork(
      snapshotId,
      3,
      { labels: { fork: 'yes' } },
      { idempotencyKey: 'fork-once' },
    );
    expect(handles).toHaveLength(3);
    const clones = await Promise.all(handles.map((handle) => handle.result()));
    expect(new Set(clones.map((clone) => clone.sandboxId)).size).toBe(3);
    expect(new Set(clones.map((clone) => clone.address)).size).toBe(3);
    for (const clone of clones) {
      expect(clone).toMatchObject({ state: 'running', hostId: 'fk1' });
      expect(clone.diskBytes).toBeGreaterThanOrEqual(0);
    }
    expect((await client.list({ labels: { fork: 'yes' } })).map((r) => r.fromSnapshot)).toEqual([
      snapshotId,
      snapshotId,
      snapshotId,
    ]);
    const again = await client.fork(
      snapshotId,
      3,
      { labels: { fork: 'yes' } },
      { idempotencyKey: 'fork-once' },
    );
    expect(again.map((handle) => handle.jobId)).toEqual(handles.map((handle) => handle.jobId));
    await expect(client.fork(snapshotId, 0)).rejects.toMatchObject({ code: ErrorCode.Validation });
    for (const id of [source.sandboxId, ...clones.map((clone) => clone.sandboxId)]) {
      await (await client.destroy(id)).result();
    }
  });
});
