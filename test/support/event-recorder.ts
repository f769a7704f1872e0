import type { HangarEvent } from '../../src/events/event-schemas.ts';
import type { HangarClient } from '../../src/producer/hangar-client.ts';
import { pollUntil } from '../../src/util/poll.ts';

/** A client's events as they arrive, for a test to wait on instead of sleeping. */
export interface EventRecorder {
  /** Every event read so far, in stream order. */
  readonly seen: HangarEvent[];
  /** The first event `matches` picks, waiting until it has arrived. */
  next(what: string, matches: (event: HangarEvent) => boolean, timeoutMs?: number): Promise<HangarEvent>;
  /** Stops reading. */
  stop(): Promise<void>;
}

/**
 * Reads a client's event stream from `after` ('0': everything kept), by default from the
 * newest event at the call: the position is read before this returns, so no event of what
 * the test does next can come before the reader starts.
 */
export async function recordEvents(client: HangarClient, after?: string): Promise<EventRecorder> {
  const from = after ?? (await client.latestEventPosition());
  const seen: HangarEvent[] = [];
  const abort = new AbortController();
  const reading = (async () => {
    for await (const { event } of client.events({ after: from, signal: abort.signal, blockMs: 100 })) {
      seen.push(event);
    }
  })();
  return {
    seen,
    next: (what, matches, timeoutMs = 10_000) =>
      pollUntil(what, async () => seen.find(matches), { timeoutMs, intervalMs: 25 }),
    stop: async () => {
      abort.abort();
      await reading;
    },
  };
}
