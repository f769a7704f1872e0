import { Redis } from 'ioredis';

/**
 * Redis connections by role, with the settings BullMQ needs: workers and blocking readers
 * wait out a Redis outage (maxRetriesPerRequest null); producers fail fast instead of
 * queueing commands while Redis is gone (enableOfflineQueue false).
 */
export type RedisRole = 'worker' | 'producer' | 'blocking';

/** Opens a connection for `role` to `url` (redis://host:port/db). */
export function connectRedis(url: string, role: RedisRole): Redis {
  const base = { lazyConnect: false, connectionName: `hangar-${role}` };
  if (role === 'producer') {
    return new Redis(url, { ...base, maxRetriesPerRequest: 3, enableOfflineQueue: false });
  }
  return new Redis(url, { ...base, maxRetriesPerRequest: null });
}

/** Waits until a connection is ready (producers start with the offline queue off). */
export async function whenReady(redis: Redis): Promise<Redis> {
  if (redis.status === 'ready') return redis;
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      redis.off('error', onError);
      resolve();
    };
    const onError = (error: Error) => {
      redis.off('ready', onReady);
      reject(error);
    };
    redis.once('ready', onReady);
    redis.once('error', onError);
  });
  return redis;
}
