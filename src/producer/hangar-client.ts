import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { IllegalStateError, NotFoundError, ValidationError } from '../errors/index.ts';
import { type ReadEventsOptions, readEvents } from '../events/event-reader.ts';
import type { PositionedEvent } from '../events/event-schemas.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import { DEFAULT_JOB_OPTIONS } from '../queues/job-options.ts';
import { type JobData, type JobPayload, type JobPayloadInput, parsePayload } from '../queues/job-schemas.ts';
import { bullPrefix, hostQueueName, KeySpace } from '../queues/names.ts';
import { connectRedis, whenReady } from '../redis/connections.ts';
import { FleetStore } from '../state/fleet-store.ts';
import type { SandboxRecord } from '../state/record-schemas.ts';
import { JobHandle, type JobRef } from './job-handle.ts';
import { OutcomeWaiter } from './outcome-waiter.ts';
import { chooseHost } from './placement.ts';
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

  private constructor(options: HangarClientOptions, redis: Redis, subscriber: Redis) {
    this.#options = options;
    this.keys = new KeySpace(options.keyPrefix ?? 'hangar');
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.store = new FleetStore(redis, this.keys);
    this.#waiter = new OutcomeWaiter(subscriber, this.store, this.keys);
    this.#log = options.logger ?? silentLogger;
  }

  /** Connects to the fleet's Redis. */
  static async connect(options: HangarClientOptions): Promise<HangarClient> {
    const connection = connectRedis(options.redisUrl, 'producer');
    const redis = await whenReady(connection).catch((error: unknown) => {
      connection.disconnect();
      throw error;
    });
    const subscriber = connectRedis(options.redisUrl, 'blocking');
    return new HangarClient(options, redis, subscriber);
  }

  /** Creates a sandbox on the live host with the most room that has the template. */
  async create(input: CreateInput, options: CallOptions = {}): Promise<JobHandle> {
    const payload = parsePayload({ op: 'create', sandboxId: input.sandboxId ?? newId('sb'), ...input });
    if (payload.op !== 'create') throw new ValidationError('not a create');
    let hostId: string;
    if (payload.fromSnapshot !== undefined) {
      hostId = (await this.#snapshotHost(payload.fromSnapshot)).hostId;
    } else {
      const host = chooseHost(await this.store.liveHosts(), payload);
      if (host === undefined) {
        throw new NoCapacityError(`no live host has template ${payload.template} and room for the request`, {
          template: payload.template,
        });
      }
      hostId = host.hostId;
    }
    return this.#enqueue(hostId, payload, options);
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

  /** Restores a snapshot as a new sandbox on the snapshot's host. */
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
    const snapshot = await this.#snapshotHost(snapshotId);
    return this.#enqueue(snapshot.hostId, payload, options);
  }

  destroy(sandboxId: string, options: CallOptions = {}): Promise<JobHandle> {
    return this.#onSandbox({ op: 'destroy', sandboxId }, options);
  }

  /** The fleet's record of a sandbox. */
  get(sandboxId: string): Promise<SandboxRecord | undefined> {
    return this.store.getSandbox(sandboxId);
  }

  /** Sandboxes matching a selector (every label given must match). */
  async list(selector: SandboxSelector = {}): Promise<SandboxRecord[]> {
    const all = await this.store.listSandboxes();
    return all
      .filter((record) => selector.hostId === undefined || record.hostId === selector.hostId)
      .filter((record) => selector.state === undefined || record.state === selector.state)
      .filter((record) =>
        Object.entries(selector.labels ?? {}).every(([key, value]) => record.labels[key] === value),
      )
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /**
   * Events in order from `after` (a position from an earlier event; '0' for all kept; default
   * only new ones). Each iterator holds its own connection until it ends.
   */
  async *events(options: Omit<ReadEventsOptions, 'logger'> = {}): AsyncGenerator<PositionedEvent> {
    const reader = connectRedis(this.#options.redisUrl, 'blocking');
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

  /** Builds the job data and id of a payload for `hostId` (the batch flow adds them itself). */
  async prepareJob(
    hostId: string,
    payload: JobPayload,
    idempotencyKey?: string,
  ): Promise<JobRef & { data: JobData }> {
    const seq = await this.store.nextSequence(payload.sandboxId);
    const jobId = `${payload.op}-${payload.sandboxId}-${seq}-${randomUUID().slice(0, 8)}`;
    const data: JobData = {
      payload,
      seq,
      requestedAt: new Date().toISOString(),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    };
    return { jobId, hostId, sandboxId: payload.sandboxId, op: payload.op, data };
  }

  /** A handle for a job enqueued earlier (by id), e.g. from a batch result. */
  handle(ref: JobRef): JobHandle {
    return new JobHandle(ref, this.#waiter);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
    for (const reader of this.#readers) reader.disconnect();
    await Promise.allSettled([this.#subscriber.quit(), this.#redis.quit()]);
  }

  async #onSandbox(input: JobPayloadInput, options: CallOptions): Promise<JobHandle> {
    const payload = parsePayload(input);
    const record = await this.store.getSandbox(payload.sandboxId);
    if (record === undefined)
      throw new NotFoundError(`no sandbox ${payload.sandboxId}`, { sandboxId: payload.sandboxId });
    if ((record.state === 'destroyed' || record.state === 'failed') && payload.op !== 'destroy') {
      throw new IllegalStateError(`cannot ${payload.op} sandbox ${payload.sandboxId}: it is ${record.state}`);
    }
    return this.#enqueue(record.hostId, payload, options);
  }

  async #snapshotHost(snapshotId: string): Promise<{ hostId: string }> {
    const snapshot = await this.store.getSnapshot(snapshotId);
    if (snapshot === undefined) throw new NotFoundError(`no snapshot ${snapshotId}`, { snapshotId });
    return snapshot;
  }

  async #enqueue(hostId: string, payload: JobPayload, options: CallOptions): Promise<JobHandle> {
    if (payload.op !== 'destroy') await this.#assertHostLive(hostId);
    const key = options.idempotencyKey;
    if (key !== undefined) {
      const earlier = await this.store.redis.get(this.keys.idempotency(key));
      if (earlier !== null) return this.handle(JSON.parse(earlier) as JobRef);
    }
    const { data, ...ref } = await this.prepareJob(hostId, payload, key);
    if (key !== undefined) {
      const winner = await this.store.claimIdempotencyKey(key, JSON.stringify(ref));
      if (winner !== undefined) return this.handle(JSON.parse(winner) as JobRef);
    }
    await this.queueFor(hostId).add(payload.op, data, { jobId: ref.jobId });
    this.#log.debug({ ...ref }, 'job enqueued');
    return this.handle(ref);
  }

  async #assertHostLive(hostId: string): Promise<void> {
    const live = await this.store.liveHosts();
    if (!live.some((host) => host.hostId === hostId)) throw new HostLostError(hostId);
  }
}

/** A fresh identifier with a readable prefix. */
export function newId(prefix: string): string {
  return `${prefix}-${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}
