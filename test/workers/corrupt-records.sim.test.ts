import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetSummary } from '../../src/dashboard/fleet-summary.ts';
import { ErrorCode } from '../../src/errors/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { heartbeat } from '../support/dashboard.ts';
import { recordEvents } from '../support/event-recorder.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

// One real host; next to its sandboxes' records lie one that is not JSON and one that is
// JSON but not a sandbox record. A stand-in host `ghost` holds them and a good one.
describe('corrupt records are skipped by listings and refused by operations [CH simulator stand-in]', () => {
  let fleet: TestFleet;
  const ids: string[] = [];

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['c1'],
      network: { prefix: 'hgq4', octet: 225, halves: true },
      worker: { poolSize: 0, heartbeatMs: 200, lostAfterMs: 1_000 },
    });
    const { client } = fleet;
    for (let i = 0; i < 2; i += 1) {
      const created = await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result();
      ids.push(String(created.sandboxId));
    }
    const { redis, keys } = internalsOf(client).store;
    const good = await client.get(ids[0]!);
    // Corrupt records as a bad writer leaves them on the ghost's slot, listed in its
    // index and the directory like any other.
    const at = new Date().toISOString();
    const ghost = keys.host('ghost');
    await redis
      .multi()
      .set(ghost.sandbox('bad-json'), '{"sandboxId": "bad-json", "state": "runn')
      .set(
        ghost.sandbox('bad-schema'),
        JSON.stringify({ sandboxId: 'bad-schema', state: 'running', vcpus: 'many' }),
      )
      .set(ghost.sandbox('ghost-1'), JSON.stringify({ ...good, sandboxId: 'ghost-1', hostId: 'ghost' }))
      .zadd(ghost.liveIndex(), 0, `${at}|bad-json`, 0, `${at}|bad-schema`, 0, `${good!.createdAt}|ghost-1`)
      .exec();
    await redis
      .multi()
      .sadd(keys.fleet.hosts(), 'ghost')
      .set(keys.fleet.where('bad-json'), 'ghost')
      .set(keys.fleet.where('bad-schema'), 'ghost')
      .set(keys.fleet.where('ghost-1'), 'ghost')
      .exec();
  }, 60_000);

  afterAll(async () => {
    if (fleet === undefined) return;
    for (const id of ids) await (await fleet.client.destroy(id)).result();
    await fleet.stop();
  }, 60_000);

  it('list() answers with the good records and counts the bad ones it skipped', async () => {
    const { client } = fleet;
    const before = internalsOf(client).store.corruptSkipped;
    const listed = await client.list();
    expect(listed.map((record) => record.sandboxId).sort()).toEqual([...ids, 'ghost-1'].sort());
    expect(internalsOf(client).store.corruptSkipped - before).toBe(2);
    expect((await client.list({ hostId: 'c1' })).map((record) => record.sandboxId).sort()).toEqual(
      [...ids].sort(),
    );
  });

  it('get() and pause() of a corrupt record fail with E_CORRUPT_STATE naming its key', async () => {
    const { client } = fleet;
    for (const id of ['bad-json', 'bad-schema']) {
      const key = internalsOf(client).keys.host('ghost').sandbox(id);
      await expect(client.get(id)).rejects.toMatchObject({
        code: ErrorCode.CorruptState,
        message: expect.stringContaining(key),
      });
      await expect(client.pause(id)).rejects.toMatchObject({
        code: ErrorCode.CorruptState,
        message: expect.stringContaining(key),
      });
    }
    // The good sandboxes still take jobs.
    expect(await (await client.pause(ids[0]!)).result()).toMatchObject({ state: 'paused' });
    expect(await (await client.resume(ids[0]!)).result()).toMatchObject({ state: 'running' });
  });

  it("the dashboard's fleet summary still answers", async () => {
    const summary = await fleetSummary(internalsOf(fleet.client).store, ['host-c1']);
    // Read from counters, which only the store's writes move: the hand-written records are not in them.
    expect(summary.sandboxes.total).toBe(2);
    expect(summary.sandboxes.byState.running).toBe(2);
    expect(summary.hosts.map((host) => host.hostId)).toEqual(['c1']);
    expect(summary.hosts[0]!.sandboxes).toBe(2);
  });

  it('the lost-host check still detects a lost host that holds corrupt records', async () => {
    const { client } = fleet;
    const events = await recordEvents(client, '0');
    try {
      // The ghost beats once, briefly, and never again.
      await internalsOf(client).store.hosts.publishBeat(heartbeat('ghost'), 300);
      const lost = await events.next(
        'a host.lost event for ghost',
        (event) => event.type === 'host.lost' && event.lostHostId === 'ghost',
        15_000,
      );
      expect(lost).toMatchObject({ hostId: 'c1', sandboxes: expect.arrayContaining(['ghost-1']) });
      expect((await client.get('ghost-1'))?.state).toBe('lost');
      await expect(client.get('bad-json')).rejects.toMatchObject({ code: ErrorCode.CorruptState });
      // The host's own sandboxes were never touched.
      for (const id of ids) expect((await client.get(id))?.state).toBe('running');
    } finally {
      await events.stop();
    }
  });
});
