import type { Logger } from '../logging/logger.ts';
import type { KeySpace } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import { FORWARD_LUA, TRIM_OUTBOX_LUA } from '../state/scripts/outbox-scripts.ts';
import { RedisScript } from '../state/scripts/run-script.ts';
import { DEFAULT_STREAM_LENGTH } from './event-publisher.ts';

/** How many outbox entries one forwarding round moves. */
const BATCH = 200;

const forwardScript = new RedisScript(FORWARD_LUA);
const trimScript = new RedisScript(TRIM_OUTBOX_LUA);

/**
 * Moves a host's outbox into the fleet's event stream. The scripts that change a host's
 * records write their events to the host's outbox in the same step (one slot); this
 * forwards them to the stream on the fleet's slot, numbered so that a round cut short by a
 * crash and replayed adds nothing twice. Kicked after every write and on a timer (entries
 * a dead worker left), coalescing kicks that come while a round runs into one more round.
 */
export class OutboxForwarder {
  readonly #redis: RedisClient;
  readonly #keys: KeySpace;
  readonly #hostId: string;
  readonly #log: Logger;
  readonly #maxLength: number;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    redis: RedisClient,
    keys: KeySpace,
    hostId: string,
    log: Logger,
    options: { maxLength?: number } = {},
  ) {
    this.#redis = redis;
    this.#keys = keys;
    this.#hostId = hostId;
    this.#log = log;
    this.#maxLength = options.maxLength ?? DEFAULT_STREAM_LENGTH;
  }

  /** Forwards soon (now, or right after the round in progress). */
  kick(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#rounds().finally(() => {
      this.#running = undefined;
    });
  }

  /** Forwards on a timer as well, for entries nobody kicked for (a dead predecessor's). */
  start(intervalMs: number): void {
    this.#timer ??= setInterval(() => this.kick(), intervalMs);
    this.kick();
  }

  /** Stops the timer and waits for the round in progress, then forwards what is left. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
    await this.flush().catch((error: unknown) => this.#log.warn({ err: error }, 'could not forward events'));
  }

  /** Forwards everything in the outbox now; returns how many entries moved. */
  async flush(): Promise<number> {
    const h = this.#keys.host(this.#hostId);
    const f = this.#keys.fleet;
    let moved = 0;
    for (;;) {
      const entries = await this.#redis.lrange(h.outbox(), 0, BATCH - 1);
      if (entries.length === 0) return moved;
      const args: string[] = [];
      for (const entry of entries) {
        const bar = entry.indexOf('|');
        args.push(entry.slice(0, bar), entry.slice(bar + 1));
      }
      const last = String(
        await forwardScript.run(
          this.#redis,
          [f.eventStream(), f.forwarded()],
          [this.#hostId, this.#maxLength, ...args],
        ),
      );
      await trimScript.run(this.#redis, [h.outbox()], [last]);
      moved += entries.length;
      if (entries.length < BATCH) return moved;
    }
  }

  async #rounds(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.flush();
      } catch (error) {
        this.#log.warn({ err: error }, 'could not forward events; the next round retries');
        return;
      }
    } while (this.#again);
  }
}
