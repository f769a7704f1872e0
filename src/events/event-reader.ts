import type { Logger } from '../logging/logger.ts';
import { silentLogger } from '../logging/logger.ts';
import type { KeySpace } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import { ABORTED, unlessAborted } from '../util/abortable.ts';
import { HangarEvent, type PositionedEvent } from './event-schemas.ts';

export interface ReadEventsOptions {
  /** Stream position to continue after: '0' for everything kept, '$' (default) for only new events. */
  after?: string;
  /** Stop when aborted. */
  signal?: AbortSignal;
  /** How long one blocking read waits before looping (ms). */
  blockMs?: number;
  /** Only events for this sandbox. */
  sandboxId?: string;
  logger?: Logger;
}

/**
 * Reads the event stream in order from a position, blocking for new events: a consumer that
 * remembers the last position it saw resumes there after a disconnect and loses nothing
 * the stream still holds. `redis` must be a connection of its own (XREAD BLOCK holds it).
 */
export async function* readEvents(
  redis: RedisClient,
  keys: KeySpace,
  options: ReadEventsOptions = {},
): AsyncGenerator<PositionedEvent> {
  const log = options.logger ?? silentLogger;
  let after = options.after ?? '$';
  const blockMs = options.blockMs ?? 1_000;
  try {
    if (after === '$') {
      const newest = await unlessAborted(lastPosition(redis, keys), options.signal);
      if (newest === ABORTED) return;
      after = newest;
    }
  } catch (error) {
    if (options.signal?.aborted === true) return;
    throw error;
  }
  while (!options.signal?.aborted) {
    let reply: [string, [string, string[]][]][] | null | typeof ABORTED;
    try {
      // The read waits on its own: during an outage it sits in ioredis's queue until Redis is back.
      reply = await unlessAborted(
        redis.xread('COUNT', 500, 'BLOCK', blockMs, 'STREAMS', keys.fleet.eventStream(), after) as Promise<
          [string, [string, string[]][]][] | null
        >,
        options.signal,
      );
    } catch (error) {
      // An abort closes the connection under a blocking read: that is the end, not a failure.
      if (options.signal?.aborted === true) return;
      throw error;
    }
    if (reply === ABORTED) return;
    for (const [, entries] of reply ?? []) {
      for (const [position, fields] of entries) {
        after = position;
        const parsed = HangarEvent.safeParse(JSON.parse(fields[1] ?? 'null'));
        if (!parsed.success) {
          log.warn({ position }, 'skipping malformed event');
          continue;
        }
        if (
          options.sandboxId !== undefined &&
          !('sandboxId' in parsed.data && parsed.data.sandboxId === options.sandboxId)
        ) {
          continue;
        }
        yield { position, event: parsed.data };
      }
    }
  }
}

/** The position of the newest event (or '0-0' on an empty stream). */
export async function lastPosition(redis: RedisClient, keys: KeySpace): Promise<string> {
  const newest = (await redis.xrevrange(keys.fleet.eventStream(), '+', '-', 'COUNT', 1)) as [
    string,
    string[],
  ][];
  return newest[0]?.[0] ?? '0-0';
}
