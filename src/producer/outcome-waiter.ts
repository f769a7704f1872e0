import type { Redis } from 'ioredis';
import { TimeoutError } from '../errors/index.ts';
import { HangarEvent } from '../events/event-schemas.ts';
import type { KeySpace } from '../queues/names.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import type { JobOutcome } from '../state/record-schemas.ts';

interface Waiter {
  resolve(outcome: JobOutcome): void;
}

/**
 * Resolves job outcomes from our own records: one subscriber connection on the fleet channel
 * wakes waiters, and each waiter also reads the outcome record right after registering, so
 * an outcome written before the wait began is never missed (the worker writes the record
 * before it publishes). BullMQ's QueueEvents is not used: it is trimmed and best-effort.
 */
export class OutcomeWaiter {
  readonly #subscriber: Redis;
  readonly #store: FleetStore;
  readonly #channel: string;
  readonly #waiters = new Map<string, Set<Waiter>>();
  #subscribed: Promise<unknown> | undefined;

  constructor(subscriber: Redis, store: FleetStore, keys: KeySpace) {
    this.#subscriber = subscriber;
    this.#store = store;
    this.#channel = keys.fleetChannel();
    subscriber.on('message', (_channel: string, message: string) => this.#onMessage(message));
  }

  /** Waits for a job's final outcome; rejects with TimeoutError after `timeoutMs`. */
  async wait(jobId: string, timeoutMs: number): Promise<JobOutcome> {
    this.#subscribed ??= this.#subscriber.subscribe(this.#channel);
    await this.#subscribed;
    let waiter!: Waiter;
    let timer: NodeJS.Timeout | undefined;
    const settled = new Promise<JobOutcome>((resolve, reject) => {
      waiter = { resolve };
      timer = setTimeout(
        () => reject(new TimeoutError(`job ${jobId} did not finish within ${timeoutMs} ms`, { jobId })),
        timeoutMs,
      );
    });
    const set = this.#waiters.get(jobId) ?? new Set();
    set.add(waiter);
    this.#waiters.set(jobId, set);
    try {
      const already = await this.#store.getOutcome(jobId);
      if (already !== undefined) return already;
      return await settled;
    } finally {
      clearTimeout(timer);
      set.delete(waiter);
      if (set.size === 0) this.#waiters.delete(jobId);
    }
  }

  #onMessage(message: string): void {
    const parsed = HangarEvent.safeParse(JSON.parse(message));
    if (!parsed.success) return;
    const event = parsed.data;
    let outcome: JobOutcome;
    if (event.type === 'job.completed' || event.type === 'batch.completed') {
      outcome = { status: 'completed', result: event.result, at: event.at };
    } else if (event.type === 'job.failed' && !event.willRetry) {
      outcome = { status: 'failed', error: event.error, at: event.at };
    } else {
      return;
    }
    const waiters = this.#waiters.get(event.jobId);
    if (waiters === undefined) return;
    for (const waiter of waiters) waiter.resolve(outcome);
  }
}
