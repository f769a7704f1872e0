import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  ConflictError,
  CorruptStateError,
  IllegalStateError,
  NotFoundError,
  ValidationError,
} from '../errors/index.ts';
import { type ReadEventsOptions, readEvents } from '../events/event-reader.ts';
import type { PositionedEvent } from '../events/event-schemas.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import { DEFAULT_JOB_OPTIONS } from '../queues/job-options.ts';
import { type JobData, type JobPayload, type JobPayloadInput, parsePayload } from '../queues/job-schemas.ts';
import { bullPrefix, hostQueueName, KeySpace } from '../queues/names.ts';
import { connectRedis, whenReady } from '../redis/connections.ts';
import { FleetStore, OUTCOME_TTL_SECONDS } from '../state/fleet-store.ts';
import type { EnqueueAnswer, Placement } from '../state/job-sequences.ts';
import type { SandboxRecord } from '../state/record-schemas.ts';
import { JobHandle, type JobRef } from './job-handle.ts';
import { OutcomeWaiter } from './outcome-waiter.ts';
import { HostLostError, NoCapacityError } from './producer-errors.ts';

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
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #queues = new Map<string, Queue>();
  readonly #waiter: OutcomeWaiter;
  readonly #log: Logger;
  readonly #readers = new Set<Redis>();
  /** This client's id: the jobs it enqueues carry it, and their outcomes come back on its own channel. */
  readonly #clientId = randomUUID().replaceAll('-', '').slice(0, 16);

  private constructor(options: HangarClientOptions, redis: Redis, subscriber: Redis) {
    this.#options = options;
    this.keys = new KeySpace(options.keyPrefix ?? 'hangar');
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#log = options.logger ?? silentLogger;
    this.store = new FleetStore(redis, this.keys, { logger: this.#log });
    this.#waiter = new OutcomeWaiter(
      subscriber,
      this.store,
      this.keys.replyChannel(this.#clientId),
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
   * host's capacity is reserved in the same step, so concurrent producers never overfill it.
   */
  async create(input: CreateInput, options: CallOptions = {}): Promise<JobHandle> {
    const payload = parsePayload({ op: 'create', sandboxId: input.sandboxId ?? newId('sb'), ...input });
    if (payload.op !== 'create') throw new ValidationError('not a create');
    const placement: Placement =
      payload.fromSnapshot === undefined
        ? { kind: 'create', template: payload.template, vcpus: payload.vcpus, memoryMib: payload.memoryMib }
        : { kind: 'snapshot', snapshotId: payload.fromSnapshot };
    return this.#enqueue(payload, placement, options);
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
    return this.#enqueue(payload, { kind: 'snapshot', snapshotId }, options);
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
    let queue = this.#queues.get(hostId);
    if (queue === undefined) {
      queue = new Queue(hostQueueName(hostId), {
        connection: this.#redis,
        prefix: bullPrefix(this.#options.keyPrefix ?? 'hangar'),
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
      });
      queue.on('error', (error) => this.#log.warn({ err: error, hostId }, 'queue error'));
      this.#queues.set(hostId, queue);
    }
    return queue;
  }

  /**
   * Takes the next place in a sandbox's order for a job on `hostId`, with no checks (the
   * batch flow adds the job itself, and calls `abandon` if it cannot).
   */
  async prepareJob(hostId: string, payload: JobPayload): Promise<SequencedJob> {
    const answer = await this.store.sequences.enqueue({
      op: payload.op,
      sandboxId: payload.sandboxId,
      jobSuffix: randomUUID().slice(0, 8),
      idempotencyTtlSeconds: OUTCOME_TTL_SECONDS,
      placement: { kind: 'host', hostId },
    });
    if (answer.kind === 'ok')
      return { ref: answer.ref, data: jobDataOf(payload, answer.ref.seq, this.#clientId) };
    if (answer.kind === 'duplicate')
      throw new ConflictError(`cannot take a number for ${payload.op} of ${payload.sandboxId}`);
    throw this.#refusal(payload, answer);
  }

  /** Gives back a place taken by prepareJob whose job was never added, so nobody waits for it. */
  async abandon(ref: SequencedJob['ref'], idempotencyKey?: string): Promise<void> {
    await this.store.sequences.skip(ref, idempotencyKey).catch((error: unknown) => {
      this.#log.warn({ err: error, jobId: ref.jobId }, 'could not give back a sequence number');
    });
  }

  /** A handle for a job enqueued earlier (by id), e.g. from a batch result. */
  handle(ref: JobRef): JobHandle {
    return new JobHandle(ref, this.#waiter);
  }

  async close(): Promise<void> {
    this.#waiter.close();
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
    for (const reader of this.#readers) reader.disconnect();
    await Promise.allSettled([this.#subscriber.quit(), this.#redis.quit()]);
  }

  async #onSandbox(input: JobPayloadInput, options: CallOptions): Promise<JobHandle> {
    return this.#enqueue(parsePayload(input), { kind: 'sandbox' }, options);
  }

  /**
   * One step (one round trip) claims the idempotency key, finds the host (the sandbox's, or
   * for a create the best live one), reserves capacity (create, restore) and takes the
   * sandbox's next number; then the job is added. An add that fails gives its number back.
   */
  async #enqueue(payload: JobPayload, placement: Placement, options: CallOptions): Promise<JobHandle> {
    const key = options.idempotencyKey;
    const answer = await this.store.sequences.enqueue({
      op: payload.op,
      sandboxId: payload.sandboxId,
      jobSuffix: randomUUID().slice(0, 8),
      idempotencyTtlSeconds: OUTCOME_TTL_SECONDS,
      ...(key === undefined ? {} : { idempotencyKey: key }),
      placement,
    });
    if (answer.kind === 'duplicate') {
      // The first call's add may have failed after its number was taken: add it now.
      if (!answer.jobExists && (await this.store.getOutcome(answer.ref.jobId)) === undefined) {
        await this.#add(answer.ref, payload, key);
      }
      return this.handle(answer.ref);
    }
    if (answer.kind !== 'ok') throw this.#refusal(payload, answer, placement);
    await this.#add(answer.ref, payload, key);
    return this.handle(answer.ref);
  }

  #refusal(
    payload: JobPayload,
    answer: Exclude<EnqueueAnswer, { kind: 'ok' | 'duplicate' }>,
    placement?: Placement,
  ): Error {
    const sandboxId = payload.sandboxId;
    switch (answer.kind) {
      case 'exists':
        return new ConflictError(`sandbox id ${sandboxId} is taken: it was created before`, { sandboxId });
      case 'no-capacity': {
        const asked =
          placement?.kind === 'create'
            ? `${placement.vcpus} vCPU / ${placement.memoryMib} MiB`
            : `${payload.op} of ${sandboxId}`;
        const what = placement?.kind === 'create' ? ` with template ${placement.template}` : '';
        return new NoCapacityError(`no live host${what} has room for ${asked}: ${freeReport(answer.free)}`, {
          free: answer.free,
        });
      }
      case 'not-found':
        return new NotFoundError(`no ${answer.what}`, { sandboxId });
      case 'illegal-state':
        return new IllegalStateError(`cannot ${payload.op} sandbox ${sandboxId}: it is ${answer.state}`, {
          sandboxId,
          state: answer.state,
        });
      case 'host-lost':
        return new HostLostError(answer.hostId);
      case 'corrupt':
        return new CorruptStateError(answer.key);
    }
  }

  async #add(
    ref: SequencedJob['ref'],
    payload: JobPayload,
    idempotencyKey: string | undefined,
  ): Promise<void> {
    const data = jobDataOf(payload, ref.seq, this.#clientId, idempotencyKey);
    try {
      await this.queueFor(ref.hostId).add(payload.op, data, { jobId: ref.jobId });
    } catch (error) {
      await this.abandon(ref, idempotencyKey);
      throw error;
    }
    this.#log.debug({ ...ref }, 'job enqueued');
  }
}

/** A job's place in its sandbox's order and the data it is added with. */
export interface SequencedJob {
  ref: JobRef & { seq: number };
  data: JobData;
}

function jobDataOf(payload: JobPayload, seq: number, replyTo: string, idempotencyKey?: string): JobData {
  return {
    payload,
    seq,
    requestedAt: new Date().toISOString(),
    replyTo,
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  };
}

function freeReport(free: { hostId: string; vcpus: number; memoryMib: number; slots: number }[]): string {
  if (free.length === 0) return 'no live host';
  return free
    .map((host) => `${host.hostId} has ${host.vcpus} vCPU / ${host.memoryMib} MiB / ${host.slots} slots free`)
    .join('; ');
}

/** A fresh identifier with a readable prefix. */
export function newId(prefix: string): string {
  return `${prefix}-${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}
