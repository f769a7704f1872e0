import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

// Two hosts; gf2's disk reserve is larger than its disk, so it refuses every snapshot (and no create).
describe('group snapshots [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['gf1', 'gf2'],
      network: { prefix: 'hggs', octet: 144, halves: true },
      worker: { poolSize: 1 },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  async function on(hostId: string) {
    const handle = await fleet.client.create({ template: 'base', vcpus: 1, memoryMib: 128 });
    expect(handle.hostId).toBeDefined();
    const result = await handle.result();
    return { ...result, placedOn: handle.hostId, want: hostId };
  }

  it('snapshots every member at one barrier, puts each back as it was, and restores the group together', async () => {
    const { client } = fleet;
    const members = [await on('any'), await on('any'), await on('any')];
    await (await client.pause(members[2]!.sandboxId)).result();
    const ids = members.map((m) => m.sandboxId);
    const group = await client.snapshotGroup(ids, { groupId: 'grp-ok' });
    const result = await group.result.result();
    expect(result.snapshots.map((s) => s.sandboxId).sort()).toEqual([...ids].sort());
    for (const taken of result.snapshots) {
      expect(taken.snapshotId).toBe(group.snapshotIds[taken.sandboxId]);
      expect(taken.pausedMs).toBeGreaterThan(0);
      expect((await client.getSnapshot(taken.snapshotId))?.groupId).toBe('grp-ok');
    }
    expect((await client.get(ids[0]!))?.state).toBe('running');
    expect((await client.get(ids[1]!))?.state).toBe('running');
    expect((await client.get(ids[2]!))?.state).toBe('paused');
    // A repeated call is the same group.
    expect((await client.snapshotGroup(ids, { groupId: 'grp-ok' })).result.jobId).toBe(group.result.jobId);

    const restored = await Promise.all((await client.restoreGroup('grp-ok')).map((h) => h.result()));
    expect(restored).toHaveLength(3);
    for (const r of restored) expect(r.state).toBe('running');
    for (const id of [...ids, ...restored.map((r) => r.sandboxId)]) await (await client.destroy(id)).result();
  });

  it('a member that fails leaves none of the group’s snapshots and every member as it was', async () => {
    const { client } = fleet;
    const a = await on('any');
    const b = await on('any');
    // gf2 now refuses snapshots: its reserve is more than any disk.
    const gf2 = fleet.workers.find((w) => w.config.hostId === 'gf2')!;
    await gf2.stop();
    await fleet.startWorker('gf2', { diskReserveMib: 1 << 30 });
    const members = [a, b];
    const hosts = new Set(members.map((m) => m.placedOn));
    // Placement spreads creates by free memory: with two hosts, one member is on each.
    expect(hosts).toEqual(new Set(['gf1', 'gf2']));
    const group = await client.snapshotGroup([a.sandboxId, b.sandboxId], { groupId: 'grp-fail' });
    await expect(group.result.result()).rejects.toMatchObject({ code: ErrorCode.Capacity });
    expect(await client.listSnapshots({ groupId: 'grp-fail' })).toEqual([]);
    expect((await client.get(a.sandboxId))?.state).toBe('running');
    expect((await client.get(b.sandboxId))?.state).toBe('running');
    expect((await internalsOf(client).store.groups.get('grp-fail'))?.state).toBe('failed');
    for (const id of [a.sandboxId, b.sandboxId]) await (await client.destroy(id)).result();
  });
});
