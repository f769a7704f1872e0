import type { KeySpace } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import { DEFAULT_STREAM_LENGTH } from './event-publisher.ts';
import { HangarEvent, type PositionedEvent } from './event-schemas.ts';

/** What a look back over the stream found. */
export interface RecentEvents {
  /** The matching events, newest first. */
  events: PositionedEvent[];
  /** The stream's newest position when it was read ('0-0' when empty): a live reader goes on after it. */
  head: string;
  /** Whether the look reached the stream's oldest entry (else older matches may be there). */
  complete: boolean;
}

// One round trip reads this many entries; a page view stays a handful of round trips.
const CHUNK = 500;

/**
 * The newest events (of one sandbox, when `sandboxId` is given), read backwards from the
 * stream's head: at most `limit` of them, looking at no more than `scan` entries (by default
 * as many as the stream keeps). Malformed entries are passed over. Unlike `readEvents` it
 * never blocks, so it shares a connection with other reads.
 */
export async function recentEvents(
  redis: RedisClient,
  keys: KeySpace,
  options: { sandboxId?: string; limit?: number; scan?: number } = {},
): Promise<RecentEvents> {
  const limit = options.limit ?? 50;
  const scan = options.scan ?? DEFAULT_STREAM_LENGTH;
  const events: PositionedEvent[] = [];
  let head = '0-0';
  let end = '+';
  let scanned = 0;
  while (scanned < scan) {
    const count = Math.min(CHUNK, scan - scanned);
    const chunk = (await redis.xrevrange(keys.fleet.eventStream(), end, '-', 'COUNT', count)) as [
      string,
      string[],
    ][];
    if (head === '0-0' && chunk[0] !== undefined) head = chunk[0][0];
    for (const [position, fields] of chunk) {
      scanned += 1;
      const event = parseEvent(fields[1]);
      if (event === undefined) continue;
      if (
        options.sandboxId !== undefined &&
        !('sandboxId' in event && event.sandboxId === options.sandboxId)
      ) {
        continue;
      }
      events.push({ position, event });
      if (events.length >= limit) return { events, head, complete: false };
    }
    if (chunk.length < count) return { events, head, complete: true };
    // Exclusive start: the oldest entry of this chunk was read already.
    end = `(${chunk.at(-1)![0]}`;
  }
  return { events, head, complete: false };
}

function parseEvent(json: string | undefined): HangarEvent | undefined {
  try {
    const parsed = HangarEvent.safeParse(JSON.parse(json ?? 'null'));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
