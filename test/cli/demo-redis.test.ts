import { afterAll, describe, expect, it } from 'vitest';
import { redisAnswers } from '../../src/cli/commands/redis-ping.ts';
import { type DemoRedis, demoRedis } from '../../src/demo/demo-redis.ts';
import { freePort } from '../../src/demo/free-port.ts';
import { TEST_REDIS_URL } from '../support/redis.ts';

describe('the demo’s choice of Redis', () => {
  const started: DemoRedis[] = [];

  afterAll(async () => {
    await Promise.allSettled(started.map((redis) => redis.stop()));
  });

  it('takes REDIS_URL first, then a local Redis that answers', async () => {
    expect(await demoRedis({ env: { REDIS_URL: 'redis://10.0.0.1:1' } })).toMatchObject({ source: 'env' });
    expect(await demoRedis({ env: {}, localUrl: TEST_REDIS_URL })).toMatchObject({
      source: 'local',
      url: TEST_REDIS_URL,
    });
  });

  it('starts a private redis-server when none answers, and stops it again', async () => {
    const silent = `redis://127.0.0.1:${await freePort()}`;
    const redis = await demoRedis({ env: {}, localUrl: silent });
    started.push(redis);
    expect(redis.source).toBe('private');
    expect(await redisAnswers(redis.url)).toBe(true);
    await redis.stop();
    expect(await redisAnswers(redis.url, 500)).toBe(false);
  });
});
