import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recentEvents } from '../../src/events/event-history.ts';
import { KeySpace } from '../../src/queues/names.ts';
import { deleteKeys, TEST_REDIS_URL } from '../support/redis.ts';

describe("recent events read backwards from the stream's head (real Redis)", () => {
  const keyPrefix = `hangar-test-${randomBytes(4).toString('hex')}`;
  const keys = new KeySpace(keyPrefix);
  let redis: Redis;
  const positions: string[] = [];

  // 1,200 events: sb-old's three are the oldest, so finding them crosses every chunk.
  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    const pipeline = redis.pipeline();
    for (let index = 0; index < 1_200; index += 1) {
      const sandboxId = index < 3 ? 'sb-old' : `sb-${index % 7}`;
      const event = { type: 'sandbox.state', at: new Date().toISOString(), sandboxId, state: 'running' };
      pipeline.xadd(keys.fleet.eventStream(), '*', 'e', JSON.stringify(event));
    }
    pipeline.xadd(keys.fleet.eventStream(), '*', 'e', '{not json');
    for (const [error, position] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      positions.push(String(position));
    }
  });

  afterAll(async () => {
    redis?.disconnect();
    await deleteKeys(keyPrefix);
  });

  it("finds one sandbox's events across chunks, newest first, passing over a malformed entry", async () => {
    const found = await recentEvents(redis, keys, { sandboxId: 'sb-old' });
    expect(found.events.map((event) => event.position)).toEqual(positions.slice(0, 3).reverse());
    expect(found.head).toBe(positions.at(-1));
    expect(found.complete).toBe(true);
  });

  it('stops at the limit or the scan bound, and says the look was not complete', async () => {
    const limited = await recentEvents(redis, keys, { limit: 5 });
    expect(limited.events.map((event) => event.position)).toEqual(positions.slice(-6, -1).reverse());
    expect(limited.complete).toBe(false);
    const bounded = await recentEvents(redis, keys, { sandboxId: 'sb-old', scan: 1_000 });
    expect(bounded).toMatchObject({ events: [], complete: false });
  });

  it('answers an empty stream with nothing, complete', async () => {
    expect(await recentEvents(redis, new KeySpace(`${keyPrefix}-empty`))).toEqual({
      events: [],
      head: '0-0',
      complete: true,
    });
  });
});
