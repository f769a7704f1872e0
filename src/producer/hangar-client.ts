import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { ValidationError } from '../errors/index.ts';
import { type ReadEventsOptions, readEvents } from '../events/event-reader.ts';
import type { PositionedEvent } from '../events/event-schemas.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import { type JobPayload, type JobPayloadInput, parsePayload } from '../queues/job-schemas.ts';
import { KeySpace } from '../queues/names.ts';
import { connectRedis, type RedisClient, whenReady } from '../redis/connections.ts';
import { FleetStore } from '../state/fleet-store.ts';
import type { Placement } from '../state/job-sequences.ts';
import type { SandboxRecord } from '../state/record-schemas.ts';
import { JobHandle, type JobRef } from './job-handle.ts';
import { JobSubmitter, type SequencedJob } from './job-submitter.ts';
import { OutcomeWaiter } from './outcome-waiter.ts';

export type { SequencedJob } from './job-submitter.ts';

/** How a client connects: the fleet's Redis and key prefix. */
export interface HangarClientOptions {
  redisUrl: string;
  keyPrefix?: string;
  logger?: Logger;
}

/** Per-call options: an idempotency key makes a repeated call return the first call's job. */
export interface CallOptions {
  idempotencyKey?: string;
}

/** What `create` takes; the sandbox id is generated when not given. */
export interface CreateInput {
  template: string;
  vcpus: number;
  memoryMib: number;
  labels?: Record<string, string>;
  sandboxId?: string;
  fromSnapshot?: string;
}

/** Selects sandboxes by host, state and labels (all given labels must match). */
export interface SandboxSelector {
  hostId?: string;
  state?: SandboxRecord['state'];
  labels?: Record<string, string>;
}

/**
 * The library backend apps import: enqueue lifecycle jobs on the right host's queue and get
 * typed results and events back. Every input is validated here before anything is written.
 */
export class HangarClient {
  readonly keys: KeySpace;
  readonly store: FleetStore;
  readonly #options: HangarClientOptions;
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #submitter: JobSubmitter;
  readonly #waiter: OutcomeWaiter;
  readonly #log: Logger;
  readonly #readers = new Set<RedisClient>();
  /** This client's id: the jobs it enqueues carry it, and their outcomes come back on its own channel. */
  readonly #clientId = randomUUID().replaceAll('-', '').slice(0, 16);

  private constructor(options: HangarClientOptions, redis: RedisClient, subscriber: RedisClient) {
    this.#options = options;
    this.keys = new KeySpace(options.keyPrefix ?? 'hangar');
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#log = options.logger ?? silentLogger;
    this.store = new FleetStore(redis, this.keys, { logger: this.#log });
    this.#submitter = new JobSubmitter(this.store, this.keys.keyPrefix, this.#clientId, this.#log);
    this.#waiter = new OutcomeWaiter(
      subscriber,
      this.store,
      this.keys.fleet.replyChannel(this.#clientId),
      this.#log,
    );
  }

  /** This client's id, carried by its jobs so their outcomes come back on its own channel. */
  get clientId(): string {
    return this.#clientId;
  }

  /** Connects to the fleet's Redis. */
  static async connect(options: HangarClientOptions): Promise<HangarClient> {
    const connection = connectRedis(options.redisUrl, 'producer');
    const redis = await whenReady(connection).catch((error: unknown) => {
      connection.disconnect();
      throw error;
    });
    // Every connection has an error listener: a Redis restart is logged, never an unhandled error.
    const log = options.logger ?? silentLogger;
    redis.on('error', (error) => log.warn({ err: error }, 'redis connection error'));
    const subscriber = connectRedis(options.redisUrl, 'blocking');
    return new HangarClient(options, redis, subscriber);
  }

  /**
   * Creates a sandbox on the live host with the template and the most free memory; the
   * host's capacity is reserved before the job is added, so concurrent producers never
   * overfill it.
   */
  async create(input: CreateInput, options: CallOptions = {}): Promise<JobHandle> {
    const payload = parsePayload({ op: 'create', sandboxId: input.sandboxId ?? newId('sb'), ...input });
    if (payload.op !== 'create') throw new ValidationError('not a create');
    const placement: Placement =
      payload.fromSnapshot === undefined
        ? { kind: 'create', template: payload.template, vcpus: payload.vcpus, memoryMib: payload.memoryMib }
        : { kind: 'snapshot', snapshotId: payload.fromSnapshot };
    return this.handle(await this.#submitter.placed(payload, placement, options.idempotencyKey));
  }

  pause(sandboxId: string, options: CallOptions = {}): Promise<JobHandle> {
    return this.#onSandbox({ op: 'pause', sandboxId }, options);
  }

  resume(sandboxId: string, options: CallOptions = {}): Promise<JobHandle> {
    return this.#onSandbox({ op: 'resume', sandboxId }, options);
  }

  /** Snapshots memory, device state and disk together; the sandbox keeps running unless told otherwise. */
  snapshot(
    sandboxId: string,
    input: { snapshotId?: string; resumeAfter?: boolean } = {},
    options: CallOptions = {},
  ): Promise<JobHandle> {
    return this.#onSandbox(
      { op: 'snapshot', sandboxId, snapshotId: input.snapshotId ?? newId('snap'), ...input },
      options,
    );
  }

  /** Restores a snapshot as a new sandbox on the snapshot's host (its capacity reserved as for a create). */
  async restore(
    snapshotId: string,
    input: { sandboxId?: string; resume?: boolean; labels?: Record<string, string> } = {},
    options: CallOptions = {},
  ): Promise<JobHandle> {
    const payload = parsePayload({
      op: 'restore',
      snapshotId,
      sandboxId: input.sandboxId ?? newId('sb'),
      ...input,
    });
    return this.handle(
      await this.#submitter.placed(payload, { kind: 'snapshot', snapshotId }, options.idempotencyKey),
    );
  }

  destroy(sandboxId: string, options: CallOptions = {}): Promise<JobHandle> {
    return this.#onSandbox({ op: 'destroy', sandboxId }, options);
  }

  /** The fleet's record of a sandbox. */
  get(sandboxId: string): Promise<SandboxRecord | undefined> {
    return this.store.getSandbox(sandboxId);
  }

  /** Every live sandbox matching a selector (every label given must match), oldest first, read page by page. */
  list(selector: SandboxSelector = {}): Promise<SandboxRecord[]> {
    return this.store.listSandboxes(selector);
  }

  /** One page of live sandboxes matching a selector; pass the returned cursor to read on. */
  listPage(
    selector: SandboxSelector = {},
    page: { limit?: number; cursor?: string } = {},
  ): Promise<{ records: SandboxRecord[]; cursor?: string }> {
    return this.store.listPage(selector, page);
  }

  /**
   * Events in order from `after` (a position from an earlier event; '0' for all kept; default
   * only new ones). Each iterator holds its own connection until it ends.
   */
  async *events(options: Omit<ReadEventsOptions, 'logger'> = {}): AsyncGenerator<PositionedEvent> {
    const reader = connectRedis(this.#options.redisUrl, 'blocking');
    reader.on('error', (error) => this.#log.warn({ err: error }, 'event reader connection error'));
    this.#readers.add(reader);
    try {
      yield* readEvents(reader, this.keys, { ...options, logger: this.#log });
    } finally {
      this.#readers.delete(reader);
      reader.disconnect();
    }
  }

  /** The queue of a host (made once per client). */
  queueFor(hostId: string): Queue {
    return this.#submitter.queueFor(hostId);
  }

  /**
   * Takes the next place in a sandbox's order for a job on `hostId`, with no checks (the
   * batch flow adds the job itself, and calls `abandon` if it cannot).
   */
  prepareJob(hostId: string, payload: JobPayload): Promise<SequencedJob> {
    return this.#submitter.numbered(hostId, payload);
  }

  /** Gives back a place taken by prepareJob whose job was never added, so nobody waits for it. */
  abandon(ref: SequencedJob['ref'], idempotencyKey?: string): Promise<void> {
    return this.#submitter.abandon(ref, idempotencyKey);
  }

  /** A handle for a job enqueued earlier (by id), e.g. from a batch result. */
  handle(ref: JobRef): JobHandle {
    return new JobHandle(ref, this.#waiter);
  }

  async close(): Promise<void> {
    this.#waiter.close();
    await this.#submitter.close();
    for (const reader of this.#readers) reader.disconnect();
    await Promise.allSettled([this.#subscriber.quit(), this.#redis.quit()]);
  }

  async #onSandbox(input: JobPayloadInput, options: CallOptions): Promise<JobHandle> {
    return this.handle(await this.#submitter.onSandbox(parsePayload(input), options.idempotencyKey));
  }
}

/** A fresh identifier with a readable prefix. */
export function newId(prefix: string): string {
  return `${prefix}-${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}
