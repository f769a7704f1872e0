import { AbortedError, HangarError, TimeoutError } from '../errors/index.ts';
import { HangarEvent } from '../events/event-schemas.ts';
import type { Logger } from '../logging/logger.ts';
import type { RedisClient } from '../redis/connections.ts';
import type { FleetStore, OutcomeRef } from '../state/fleet-store.ts';
import type { JobOutcome } from '../state/record-schemas.ts';

/** How often pending outcomes are read again, whatever the subscriber heard (the backstop). */
export const OUTCOME_RECHECK_MS = 5_000;

interface Waiter {
  home: OutcomeRef['home'];
  resolve(outcome: JobOutcome): void;
}

/**
 * Resolves job outcomes from our own records: one subscriber connection on this client's own
 * reply channel (the worker publishes each job's end there, so no client parses the fleet's
 * events) wakes waiters, and each waiter also reads the outcome record right after registering, so
 * an outcome written before the wait began is never missed. A message published while the
 * subscriber was reconnecting is lost to pub/sub, so every pending outcome is read again
 * after each reconnect, and at a slow period as a backstop. BullMQ's QueueEvents is not used.
 */
export class OutcomeWaiter {
  readonly #subscriber: RedisClient;
  readonly #store: FleetStore;
  readonly #channel: string;
  readonly #log: Logger;
  readonly #waiters = new Map<string, Set<Waiter>>();
  #subscribed: Promise<unknown> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(subscriber: RedisClient, store: FleetStore, channel: string, log: Logger) {
    this.#subscriber = subscriber;
    this.#store = store;
    this.#channel = channel;
    this.#log = log;
    subscriber.on('message', (_channel: string, message: string) => this.#onMessage(message));
    subscriber.on('error', (error) => log.warn({ err: error }, 'outcome subscriber error'));
    // ioredis re-subscribes on reconnect; what was published in between is read from the records.
    subscriber.on('ready', () => void this.#recheck());
  }

  /**
   * Waits for a job's final outcome; rejects with TimeoutError after `timeoutMs`, or with
   * AbortedError when `signal` aborts (the job goes on; only the wait ends).
   */
  async wait(ref: OutcomeRef, timeoutMs: number, signal?: AbortSignal): Promise<JobOutcome> {
    const { jobId } = ref;
    if (signal?.aborted === true)
      throw new AbortedError(`stopped waiting for job ${jobId}`, { jobId }, signal.reason);
    let waiter!: Waiter;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    // The deadline runs from the call, even while the subscription waits for Redis to come back.
    const settled = new Promise<JobOutcome>((resolve, reject) => {
      waiter = { home: ref.home, resolve };
      timer = setTimeout(
        () => reject(new TimeoutError(`job ${jobId} did not finish within ${timeoutMs} ms`, { jobId })),
        timeoutMs,
      );
      onAbort = () => reject(new AbortedError(`stopped waiting for job ${jobId}`, { jobId }, signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    const set = this.#waiters.get(jobId) ?? new Set();
    set.add(waiter);
    this.#waiters.set(jobId, set);
    this.#timer ??= setInterval(() => void this.#recheck(), OUTCOME_RECHECK_MS);
    try {
      this.#subscribed ??= this.#subscriber.subscribe(this.#channel);
      await Promise.race([this.#subscribed, settled]);
      // Redis away at this instant is no failure: the re-read after the reconnect (or the
      // backstop) finds the outcome, and the deadline still holds.
      const already = await this.#store.getOutcome(ref.home, jobId).catch((error: unknown) => {
        if (error instanceof HangarError) throw error;
        this.#log.debug({ err: error, jobId }, 'outcome not readable now; waiting for the reconnect');
        return undefined;
      });
      if (already !== undefined) return already;
      return await settled;
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
      set.delete(waiter);
      if (set.size === 0) this.#waiters.delete(jobId);
      if (this.#waiters.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    }
  }

  /** Stops the backstop timer (the client is closing). */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #recheck(): Promise<void> {
    const jobIds = [...this.#waiters.keys()];
    if (jobIds.length === 0) return;
    try {
      const outcomes = await this.#store.getOutcomes(
        jobIds.map((jobId) => ({ jobId, home: [...this.#waiters.get(jobId)!][0]!.home })),
      );
      outcomes.forEach((outcome, index) => {
        if (outcome !== undefined) this.#resolve(jobIds[index]!, outcome);
      });
    } catch (error) {
      this.#log.warn({ err: error, pending: jobIds.length }, 'could not re-read pending outcomes');
    }
  }

  #onMessage(message: string): void {
    let parsedJson: unknown;
    try {
      parsedJson = JSON.parse(message);
    } catch {
      return;
    }
    const parsed = HangarEvent.safeParse(parsedJson);
    if (!parsed.success) return;
    const event = parsed.data;
    if (
      event.type === 'job.completed' ||
      event.type === 'batch.completed' ||
      event.type === 'group.completed'
    ) {
      this.#resolve(event.jobId, { status: 'completed', result: event.result, at: event.at });
    } else if (event.type === 'job.failed' && !event.willRetry) {
      this.#resolve(event.jobId, { status: 'failed', error: event.error, at: event.at });
    }
  }

  #resolve(jobId: string, outcome: JobOutcome): void {
    for (const waiter of this.#waiters.get(jobId) ?? []) waiter.resolve(outcome);
  }
}
