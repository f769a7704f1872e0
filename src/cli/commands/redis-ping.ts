import { Redis } from 'ioredis';
import { TimeoutError, ValidationError } from '../../errors/index.ts';
import { redact, tlsOptions } from '../../redis/connections.ts';
import type { RedisTls } from '../../redis/redis-tls.ts';

/**
 * Whether a Redis answers PING within `timeoutMs`. Used before connecting for real: the
 * fleet's connections retry forever, so an unreachable Redis would otherwise hang a command.
 */
export async function redisAnswers(url: string, timeoutMs = 2_000, tls?: RedisTls): Promise<boolean> {
  try {
    await pingRedis(url, timeoutMs, tls);
    return true;
  } catch {
    return false;
  }
}

/** Pings a Redis once; rejects with a TimeoutError naming the URL (its password hidden) when it does not answer. */
export async function pingRedis(url: string, timeoutMs = 3_000, tls?: RedisTls): Promise<void> {
  const material = tlsOptions(url, tls);
  let redis: Redis;
  try {
    redis = new Redis(url, {
      ...(material === undefined ? {} : { tls: material }),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: timeoutMs,
      retryStrategy: () => null,
    });
  } catch {
    // WHATWG URL's error carries the whole URL, password included, as `input`.
    throw new ValidationError(`redis url '${redact(url)}' does not parse`, { field: 'redis' });
  }
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
    throw new TimeoutError(
      `Redis at ${redact(url)} did not answer: ${redact(reason)}`,
      { url: redact(url) },
      cause,
    );
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}
