import type { KeySpace } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import { HangarEvent } from './event-schemas.ts';

/**
 * Roughly how many events the stream keeps: enough for a consumer away for a while (about
 * 7 MB); a consumer that falls further behind reads the records instead.
 */
export const DEFAULT_STREAM_LENGTH = 20_000;

/**
 * Publishes events that go with no record change (crashes seen, retries, lost hosts,
 * batch progress): appended to the fleet's capped stream (for catching up) and sent on the
 * fleet channel and the sandbox's channel (for live listeners), in one MULTI on the
 * fleet's slot. Events that go with a record change are written with it, on the host's
 * slot, and forwarded (OutboxForwarder).
 */
export class EventPublisher {
  readonly #redis: RedisClient;
  readonly #keys: KeySpace;
  readonly #maxLength: number;

  constructor(redis: RedisClient, keys: KeySpace, options: { maxLength?: number } = {}) {
    this.#redis = redis;
    this.#keys = keys;
    this.#maxLength = options.maxLength ?? DEFAULT_STREAM_LENGTH;
  }

  /** Validates and publishes one event (also on `alsoTo` channels); returns its stream position. */
  async publish(event: HangarEvent, alsoTo: readonly string[] = []): Promise<string> {
    const checked = HangarEvent.parse(event);
    const json = JSON.stringify(checked);
    const multi = this.#redis
      .multi()
      .xadd(this.#keys.fleet.eventStream(), 'MAXLEN', '~', String(this.#maxLength), '*', 'e', json)
      .publish(this.#keys.fleet.fleetChannel(), json);
    if ('sandboxId' in checked && checked.sandboxId !== undefined)
      multi.publish(this.#keys.fleet.sandboxChannel(checked.sandboxId), json);
    for (const channel of alsoTo) multi.publish(channel, json);
    const results = await multi.exec();
    const [error, position] = results?.[0] ?? [new Error('MULTI aborted'), undefined];
    if (error) throw error;
    return String(position);
  }
}
