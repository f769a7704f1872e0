import { Redis } from 'ioredis';
import { removeHostNetwork, sweepNetwork } from '../../src/network/index.ts';
import type { HangarClient } from '../../src/producer/hangar-client.ts';
import type { HostWorker } from '../../src/workers/host-worker.ts';

/** Stops a bench's client and worker and removes every namespace, rule and Redis key they made. */
export async function teardownBenchHost(
  client: HangarClient,
  worker: HostWorker,
  redisUrl: string,
  keyPrefix: string,
): Promise<void> {
  await client.close();
  await teardownBenchWorker(worker);
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${keyPrefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}

/** Stops a bench's worker and removes every namespace and rule it made. */
export async function teardownBenchWorker(worker: HostWorker): Promise<void> {
  await worker.stop();
  await worker.ctx.slots.drain();
  await sweepNetwork(worker.ctx.network, new Set());
  await removeHostNetwork(worker.ctx.network);
}
