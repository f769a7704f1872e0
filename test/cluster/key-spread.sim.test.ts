import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPrefix } from '../../src/queues/names.ts';
import { connectRedis, mastersOf, type RedisClient } from '../../src/redis/connections.ts';
import { startTestFleet, TEST_REDIS_URL, type TestFleet } from '../support/fleet.ts';

// Runs only on the cluster run (test/cluster/vitest.config.ts), where REDIS_URL names a
// private 3-master Redis Cluster.
const onCluster = TEST_REDIS_URL.includes(',');

/** The master (by port) that owns a key's slot. */
async function ownerOf(admin: Redis, key: string): Promise<number> {
  const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', key));
  const ranges = (await admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  if (range === undefined) throw new Error(`no master owns slot ${slot}`);
  return range[2][1];
}

describe.skipIf(!onCluster)(
  'a fleet spreads over the masters of a Redis Cluster [CH simulator stand-in]',
  () => {
    let admin: Redis;
    let cluster: RedisClient;
    let fleet: TestFleet;
    const hosts: string[] = [];

    beforeAll(async () => {
      const [first] = TEST_REDIS_URL.replace('redis://', '').split(',');
      const [host, port] = first!.split(':');
      admin = new Redis({ host: host!, port: Number(port) });
      // Three host ids whose slots three different masters own.
      const owners = new Set<number>();
      for (let index = 0; hosts.length < 3 && index < 200; index += 1) {
        const owner = await ownerOf(admin, `${hostPrefix('x', `ks${index}`)}:any`);
        if (owners.has(owner)) continue;
        owners.add(owner);
        hosts.push(`ks${index}`);
      }
      fleet = await startTestFleet({
        hosts,
        network: { prefix: 'hgks', octet: 100 },
        worker: { poolSize: 0 },
      });
      cluster = connectRedis(TEST_REDIS_URL, 'worker');
    }, 60_000);

    afterAll(async () => {
      cluster?.disconnect();
      admin?.disconnect();
      await fleet?.stop();
    }, 60_000);

    it("keeps each host's queue and records on its own master, and creates, pauses and destroys on all three", async () => {
      const { client } = fleet;
      const created = [];
      const placedOn = [];
      for (const _ of hosts) {
        // Placement takes the host with the most free memory: one create per host, in turn.
        const handle = await client.create({ template: 'base', vcpus: 1, memoryMib: 128 });
        placedOn.push(handle.hostId);
        created.push(await handle.result());
      }
      expect(new Set(placedOn)).toEqual(new Set(hosts));
      for (const result of created) {
        expect(await (await client.pause(String(result.sandboxId))).result()).toMatchObject({
          state: 'paused',
        });
      }
      // Every key of a host lives on the master that owns its tag; three hosts, three masters.
      const masterOfHost = new Map<string, Set<number>>();
      for (const master of mastersOf(cluster)) {
        const keys = await master.keys(`${fleet.keyPrefix}:{host:*`);
        for (const key of keys) {
          const hostId = /\{host:([^}]+)\}/.exec(key)![1]!;
          masterOfHost.set(hostId, (masterOfHost.get(hostId) ?? new Set()).add(master.options.port!));
        }
      }
      for (const hostId of hosts) {
        expect(masterOfHost.get(hostId)?.size).toBe(1);
        // BullMQ's keys of the host's queue are among them.
        const owner = [...masterOfHost.get(hostId)!][0]!;
        expect(owner).toBe(await ownerOf(admin, `${hostPrefix(fleet.keyPrefix, hostId)}:host-${hostId}:id`));
      }
      expect(new Set(hosts.map((hostId) => [...masterOfHost.get(hostId)!][0])).size).toBe(3);
      for (const result of created) {
        expect(await (await client.destroy(String(result.sandboxId))).result()).toMatchObject({
          state: 'destroyed',
        });
      }
    });
  },
);
