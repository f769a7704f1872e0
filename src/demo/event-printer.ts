import { formatEventLine } from '../cli/commands/event-line.ts';
import { comparePositions } from '../cli/commands/events.ts';
import { internalsOf } from '../producer/client-internals.ts';
import type { HangarClient } from '../producer/hangar-client.ts';
import { pollUntil } from '../util/poll.ts';

/** A background reader printing every event as it arrives. */
export interface EventPrinter {
  /** Events printed so far. */
  count(): number;
  /** Waits until every event published before this call has been printed. */
  catchUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts printing the fleet's events from the current end of the stream, one line each. */
export async function startEventPrinter(
  client: HangarClient,
  print: (line: string) => void,
): Promise<EventPrinter> {
  let seen = await client.latestEventPosition();
  let printed = 0;
  const stop = new AbortController();
  const reading = (async () => {
    for await (const positioned of client.events({ after: seen, signal: stop.signal, blockMs: 200 })) {
      seen = positioned.position;
      printed += 1;
      print(`  event  ${formatEventLine(positioned, { position: false })}`);
    }
  })().catch((error: unknown) => {
    if (!stop.signal.aborted)
      print(`  (event reader stopped: ${error instanceof Error ? error.message : String(error)})`);
  });
  return {
    count: () => printed,
    async catchUp(timeoutMs = 5_000) {
      // Events reach the stream from the hosts' outboxes a moment after their jobs end.
      const { store } = internalsOf(client);
      await pollUntil(
        'the hosts to forward their events',
        async () => ((await store.unforwardedEvents()) === 0 ? true : undefined),
        { timeoutMs, intervalMs: 25 },
      );
      const end = await client.latestEventPosition();
      await pollUntil(
        'the event printer to catch up',
        async () => (comparePositions(seen, end) >= 0 ? true : undefined),
        {
          timeoutMs,
          intervalMs: 25,
        },
      );
    },
    async stop() {
      stop.abort();
      await reading;
    },
  };
}
