import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventPublisher } from '../../src/events/event-publisher.ts';
import { readEvents } from '../../src/events/event-reader.ts';
import type { HangarEvent, PositionedEvent } from '../../src/events/event-schemas.ts';
import { KeySpace } from '../../src/queues/names.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { deleteKeys, TEST_REDIS_URL } from '../support/redis.ts';

describe('event stream and pub/sub (real Redis)', () => {
  const keyPrefix = `hangar-test-ev-${process.pid}`;
  const keys = new KeySpace(keyPrefix);
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });

  afterAll(async () => {
    redis.disconnect();
    await deleteKeys(keyPrefix);
  });

  function stateEvent(index: number): HangarEvent {
    return {
      type: 'sandbox.state',
      at: new Date().toISOString(),
      sandboxId: `sb-${index % 3}`,
      state: 'running',
    };
  }

  it('delivers every event in order, and a reader that reconnects from its last position loses none', async () => {
    const publisher = new EventPublisher(redis, keys);
    for (let index = 0; index < 30; index += 1) await publisher.publish(stateEvent(index));

    const first: PositionedEvent[] = [];
    const reader = new Redis(TEST_REDIS_URL);
    for await (const item of readEvents(reader, keys, { after: '0', blockMs: 50 })) {
      first.push(item);
      if (first.length === 12) break; // the consumer goes away
    }
    reader.disconnect();
    // Meanwhile more events arrive.
    for (let index = 30; index < 40; index += 1) await publisher.publish(stateEvent(index));

    const rest: PositionedEvent[] = [];
    const again = new Redis(TEST_REDIS_URL);
    const abort = new AbortController();
    for await (const item of readEvents(again, keys, {
      after: first.at(-1)!.position,
      blockMs: 50,
      signal: abort.signal,
    })) {
      rest.push(item);
      if (rest.length === 28) abort.abort();
    }
    again.disconnect();
    const all = [...first, ...rest].map((item) => item.event);
    expect(all).toHaveLength(40);
    expect(all.map((event) => (event.type === 'sandbox.state' ? event.sandboxId : ''))).toEqual(
      Array.from({ length: 40 }, (_, index) => `sb-${index % 3}`),
    );
    const positions = [...first, ...rest].map((item) => item.position);
    expect(new Set(positions).size).toBe(40);
  });

  it('publishes on the fleet channel and the sandbox channel', async () => {
    const subscriber = new Redis(TEST_REDIS_URL);
    const got: string[] = [];
    subscriber.on('message', (channel: string) => got.push(channel));
    await subscriber.subscribe(keys.fleet.fleetChannel(), keys.fleet.sandboxChannel('sb-9'));
    await new EventPublisher(redis, keys).publish({ ...stateEvent(0), sandboxId: 'sb-9' } as HangarEvent);
    await new EventPublisher(redis, keys).publish({ ...stateEvent(0), sandboxId: 'sb-1' } as HangarEvent);
    // One connection hears in publish order: the second fleet message is the last one sent.
    const onFleet = () => got.filter((channel) => channel === keys.fleet.fleetChannel()).length;
    await pollUntil('both fleet messages', async () => (onFleet() === 2 ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    subscriber.disconnect();
    expect(got.filter((channel) => channel === keys.fleet.fleetChannel())).toHaveLength(2);
    expect(got.filter((channel) => channel === keys.fleet.sandboxChannel('sb-9'))).toHaveLength(1);
  });

  it('refuses to publish an invalid event', async () => {
    await expect(
      new EventPublisher(redis, keys).publish({
        type: 'sandbox.state',
        at: 'yesterday',
        sandboxId: 'x',
        state: 'running',
      }),
    ).rejects.toThrow();
  });
});
