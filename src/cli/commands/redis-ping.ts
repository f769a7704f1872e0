import { Redis } from 'ioredis';
import { TimeoutError } from '../../errors/index.ts';

/**
 * Whether a Redis answers PING within `timeoutMs`. Used before connecting for real: the
 * fleet's connections retry forever, so an unreachable Redis would otherwise hang a command.
 */
export async function redisAnswers(url: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    await pingRedis(url, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

/** Pings a Redis once; rejects with a TimeoutError naming the URL when it does not answer. */
export async function pingRedis(url: string, timeoutMs = 3_000): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    const cause = lastError ?? error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new TimeoutError(`Redis at ${url} did not answer: ${reason}`, { url }, cause);
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}
