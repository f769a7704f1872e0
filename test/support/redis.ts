import { connectRedis, mastersOf } from '../../src/redis/connections.ts';

/** The Redis every test talks to (the machine's, or REDIS_URL: one server, or a cluster's seeds). */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Deletes every Redis key under a test's prefix (on every master of a cluster). */
export async function deleteKeys(keyPrefix: string, url = TEST_REDIS_URL): Promise<void> {
  const client = connectRedis(url, 'worker');
  client.on('error', () => undefined);
  try {
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    for (const redis of mastersOf(client)) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
        cursor = next;
        // One DEL per key: on a cluster a multi-key DEL must stay within one slot.
        await Promise.all(keys.map((key) => redis.del(key)));
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
}
