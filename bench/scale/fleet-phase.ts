// One fleet size: one real worker plus stand-in hosts up to the fleet's size, a key prefix
// of its own, and records seeded up to each count in turn, a cell measured at each.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { deletePrefixKeys } from '../../src/demo/delete-keys.ts';
import { HangarClient } from '../../src/producer/hangar-client.ts';
import { KeySpace } from '../../src/queues/names.ts';
import { FleetStore } from '../../src/state/fleet-store.ts';
import { type CellFigures, measureCell } from './cell.ts';
import type { Cleanups } from './cleanups.ts';
import { startRealHost } from './real-host.ts';
import { usedMemory } from './redis-counters.ts';
import { seedRecords } from './seed.ts';
import { StandInHosts } from './stand-in-hosts.ts';

/** The real worker's warm pool: refilled between create samples, so a create never builds a netns. */
const POOL_SIZE = 4;

/** Where a fleet phase runs and what it may stop for. */
export interface PhaseContext {
  redisUrl: string;
  dir: string;
  cleanups: Cleanups;
  interrupted: () => boolean;
  log: (line: string) => void;
}

/** Measures a fleet of `hosts` (one real) at each record count; leaves nothing behind. */
export async function fleetPhase(
  phase: PhaseContext,
  hosts: number,
  recordCounts: readonly number[],
): Promise<CellFigures[]> {
  const keyPrefix = `hgsc-${hosts}-${randomBytes(3).toString('hex')}`;
  const { cleanups, interrupted, log } = phase;
  const releaseKeys = cleanups.add(`keys ${keyPrefix}`, async () => {
    await deletePrefixKeys(phase.redisUrl, keyPrefix);
  });
  const redis = new Redis(phase.redisUrl, { maxRetriesPerRequest: null });
  const closeRedis = cleanups.add('counters connection', async () => redis.disconnect());
  const real = await startRealHost({
    redisUrl: phase.redisUrl,
    keyPrefix,
    hostId: 'real-0',
    dir: join(phase.dir, `fleet-${hosts}`),
    network: { prefix: 'hgsc', vethRange: '10.250.0.0/16', hostRange: '10.251.0.0/16' },
    poolSize: POOL_SIZE,
  });
  const stopReal = cleanups.add('real worker', real.teardown);
  const client = await HangarClient.connect({ redisUrl: phase.redisUrl, keyPrefix });
  const closeClient = cleanups.add('client', () => client.close());
  const store = new FleetStore(redis, new KeySpace(keyPrefix));
  const standIns = new StandInHosts(store, 'standin', hosts - 1);
  await standIns.start();
  const stopStandIns = cleanups.add('stand-in heartbeats', () => standIns.stop());
  try {
    await real.worker.ctx.slots.waitUntilWarm(60_000);
    const cells: CellFigures[] = [];
    let seeded = 0;
    for (const records of recordCounts) {
      if (interrupted()) break;
      const before = await usedMemory(redis);
      const step = await seedRecords(store, standIns.ids, seeded, records, interrupted);
      if (interrupted()) break;
      const bytesPerSeededRecord = ((await usedMemory(redis)) - before) / step.seeded;
      log(`  ${hosts} hosts: seeded ${seeded} -> ${records} records in ${(step.ms / 1000).toFixed(1)} s`);
      seeded = records;
      const cell = await measureCell(
        { redis, redisUrl: phase.redisUrl, keyPrefix, client, real, standIns, interrupted },
        { hosts, records, bytesPerSeededRecord },
      );
      log(`  ${hosts} hosts, ${records} records: measured`);
      cells.push(cell);
    }
    return cells;
  } finally {
    await stopStandIns();
    await closeClient();
    await stopReal();
    await closeRedis();
    await releaseKeys();
  }
}
