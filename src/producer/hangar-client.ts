import { randomUUID } from 'node:crypto';
import type { ZodType } from 'zod';
import { NotFoundError, ValidationError } from '../errors/index.ts';
import { lastPosition, type ReadEventsOptions, readEvents } from '../events/event-reader.ts';
import type { PositionedEvent } from '../events/event-schemas.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import {
  type DeleteSnapshotResult,
  RESULT_SCHEMAS,
  type SandboxResult,
  type SnapshotResult,
  type StateResult,
} from '../queues/job-results.ts';
import { type JobPayload, type JobPayloadInput, parsePayload } from '../queues/job-schemas.ts';
import { KeySpace } from '../queues/names.ts';
import { connectRedis, type RedisClient, whenReady } from '../redis/connections.ts';
import type { RedisTls } from '../redis/redis-tls.ts';
import { type JobKeyInput, parseJobKey } from '../signing/job-key.ts';
import { FleetStore } from '../state/fleet-store.ts';
import type { Placement } from '../state/job-sequences.ts';
import type { HostHeartbeat, SandboxRecord, SnapshotRecord } from '../state/record-schemas.ts';
import type { SnapshotQuery } from '../state/snapshot-store.ts';
import { startTracing, type Tracing } from '../tracing/start-tracing.ts';
import type { ImportAnswer } from '../transfer/transfer-client.ts';
import { registerInternals } from './client-internals.ts';
import { JobHandle, type JobRef } from './job-handle.ts';
import { JobSubmitter } from './job-submitter.ts';
import { newId } from './new-id.ts';
import { OutcomeWaiter } from './outcome-waiter.ts';
import { type RestorePlace, restoreTarget } from './restore-target.ts';
import { type BatchHandle, type BatchOptions, snapshotBatch } from './snapshot-batch.ts';
import { type GroupHandle, restoreGroup, snapshotGroup } from './snapshot-group.ts';
import { exportSnapshot, importSnapshot, type SnapshotExport } from './snapshot-transfer.ts';
import { tracedEnqueue } from './traced-enqueue.ts';

/** How a client connects: the fleet's Redis (one server or a cluster's seeds) and key prefix. */
export interface HangarClientOptions {
  /** `redis://host:port`, or a Redis Cluster: `redis://h1:p1,h2:p2,...` (see parseRedisUrl); `rediss://` for TLS. */
  redisUrl: string;
  /** The fleet's key prefix (default 'hangar'): workers and clients of one fleet share it. */
  keyPrefix?: string;
  /**
   * The fleet's job key (hex or base64 text of at least 32 bytes, or the bytes): every job is
   * signed with it, and workers given the key refuse jobs without a valid signature. Never
   * read from the environment by the library; `hangar`'s commands read HANGAR_JOB_KEY.
   */
  jobKey?: JobKeyInput;
  /** CA, client certificate and key (PEM) for a rediss:// server that needs them. */
  redisTls?: RedisTls;
  logger?: Logger;
}

/** Per-call options: an idempotency key makes a repeated call return the first call's job. */
export interface CallOptions {
  /** Kept a day; a repeat within it returns the first call's job, never a second one. */
  idempotencyKey?: string;
}

/** What `create` takes; the sandbox id is generated when not given. */
export interface CreateInput {
  template: string;
  vcpus: number;
  memoryMib: number;
  labels?: Record<string, string>;
  sandboxId?: string;
}

/**
 * What `restore` takes besides the snapshot: the new sandbox's id (generated when not
 * given), and where it runs: the snapshot's host by default, or another (`hostId`, or
 * `elsewhere`), which first fetches the snapshot from its home.
 */
export interface RestoreInput extends RestorePlace {
  sandboxId?: string;
  /** Run the restored VM (default) or leave it paused. */
  resume?: boolean;
  labels?: Record<string, string>;
}

/** What `snapshot` takes: the snapshot's id (generated when not given). */
export interface SnapshotInput {
  snapshotId?: string;
  /** Resume the sandbox after the snapshot if it was running (default true). */
  resumeAfter?: boolean;
  /** The retention series it belongs to (see BatchOptions.series). */
  series?: string;
  /** The group snapshot it is part of (set by the group's coordinator). */
  groupId?: string;
}

/** Selects sandboxes by host, state and labels (all given labels must match). */
export interface SandboxSelector {
  hostId?: string;
  state?: SandboxRecord['state'];
  labels?: Record<string, string>;
}

/** Options of `events()`: where to start, which sandbox, and a signal that ends the iteration. */
export type EventsOptions = Omit<ReadEventsOptions, 'logger'>;

/**
 * The library backend apps import: enqueue lifecycle jobs on the right host's queue and get
 * typed results and events back. Every input is validated here before anything is written.
 */
export class HangarClient {
  readonly #options: HangarClientOptions;
  readonly #keys: KeySpace;
  readonly #store: FleetStore;
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #submitter: JobSubmitter;
  readonly #waiter: OutcomeWaiter;
  readonly #log: Logger;
  readonly #readers = new Set<RedisClient>();
  readonly #tracing: Tracing | undefined;
  /** This client's id: the jobs it enqueues carry it, and their outcomes come back on its own channel. */
  readonly #clientId = randomUUID().replaceAll('-', '').slice(0, 16);

  private constructor(
    options: HangarClientOptions,
    redis: RedisClient,
    subscriber: RedisClient,
    tracing: Tracing | undefined,
  ) {
    this.#options = options;
    this.#tracing = tracing;
    this.#keys = new KeySpace(options.keyPrefix ?? 'hangar');
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#log = options.logger ?? silentLogger;
    this.#store = new FleetStore(redis, this.#keys, { logger: this.#log });
    const jobKey = options.jobKey === undefined ? undefined : parseJobKey(options.jobKey, 'jobKey');
    this.#submitter = new JobSubmitter(this.#store, this.#keys.keyPrefix, this.#clientId, this.#log, {
      tracing,
      jobKey,
    });
    this.#waiter = new OutcomeWaiter(
      subscriber,
      this.#store,
      this.#keys.fleet.replyChannel(this.#clientId),
      this.#log,
    );
    registerInternals(this, {
      store: this.#store,
      keys: this.#keys,
      submitter: this.#submitter,
      jobKey,
      clientId: this.#clientId,
      tracing: this.#tracing,
      handle: (ref, schema) => new JobHandle(ref, this.#waiter, schema),
    });
  }

  /**
   * Connects to the fleet's Redis. When the OTEL_* environment turns tracing on, each call
   * that enqueues a job is the root of a trace that the job's worker continues.
   */
  static async connect(options: HangarClientOptions): Promise<HangarClient> {
    // A bad key is the caller's mistake: say so before connecting to anything.
    if (options.jobKey !== undefined) parseJobKey(options.jobKey, 'jobKey');
    const tracing = await startTracing('hangar-client');
    const tls = { ...(options.redisTls === undefined ? {} : { tls: options.redisTls }) };
    const connection = connectRedis(options.redisUrl, 'producer', tls);
    const redis = await whenReady(connection).catch((error: unknown) => {
      connection.disconnect();
      throw error;
    });
    // Every connection has an error listener: a Redis restart is logged, never an unhandled error.
    const log = options.logger ?? silentLogger;
    redis.on('error', (error) => log.warn({ err: error }, 'redis connection error'));
    const subscriber = connectRedis(options.redisUrl, 'blocking', tls);
    return new HangarClient(options, redis, subscriber, tracing);
  }

  /**
   * Creates a sandbox on the live host with the template and the most free memory; the
   * host's capacity is reserved before the job is added, so concurrent producers never
   * overfill it.
   */
  async create(input: CreateInput, options: CallOptions = {}): Promise<JobHandle<SandboxResult>> {
    const payload = parsePayload({ ...input, op: 'create', sandboxId: input.sandboxId ?? newId('sb') });
    const placement: Placement = {
      kind: 'create',
      template: input.template,
      vcpus: input.vcpus,
      memoryMib: input.memoryMib,
    };
    const ref = await tracedEnqueue(this.#tracing, 'create', payload.sandboxId, () =>
      this.#submitter.placed(payload, placement, options.idempotencyKey),
    );
    return this.#handle(ref, 'create');
  }

  /** Restores a snapshot as a new sandbox on the snapshot's host (its capacity reserved as for a create). */
  async restore(
    snapshotId: string,
    input: RestoreInput = {},
    options: CallOptions = {},
  ): Promise<JobHandle<SandboxResult>> {
    const { hostId, elsewhere, ...rest } = input;
    const payload = parsePayload({
      ...rest,
      op: 'restore',
      snapshotId,
      sandboxId: input.sandboxId ?? newId('sb'),
    });
    const ref = await tracedEnqueue(this.#tracing, 'restore', payload.sandboxId, async () => {
      const target = await restoreTarget(this.#store, snapshotId, {
        ...(hostId === undefined ? {} : { hostId }),
        ...(elsewhere === undefined ? {} : { elsewhere }),
      });
      const placement: Placement = {
        kind: 'snapshot',
        snapshotId,
        ...(target === undefined ? {} : { hostId: target }),
      };
      return this.#submitter.placed(payload, placement, options.idempotencyKey);
    });
    return this.#handle(ref, 'restore');
  }

  /**
   * Forks a snapshot into `count` new sandboxes at once, on the snapshot's host: every clone
   * reads the same memory file (shared, read-only) and writes its own copy-on-write disk
   * over the snapshot's. Each gets fresh entropy before it is handed out. Returns one handle
   * per clone, in order; with an idempotency key, clone i is keyed `<key>/<i>`.
   */
  async fork(
    snapshotId: string,
    count: number,
    input: Omit<RestoreInput, 'sandboxId'> & { sandboxIds?: readonly string[] } = {},
    options: CallOptions = {},
  ): Promise<JobHandle<SandboxResult>[]> {
    if (!Number.isInteger(count) || count < 1 || count > 64) {
      throw new ValidationError(`invalid fork count ${count}: an integer from 1 to 64`, { field: 'count' });
    }
    if (input.sandboxIds !== undefined && input.sandboxIds.length !== count) {
      throw new ValidationError(`fork of ${count} names ${input.sandboxIds.length} sandbox ids`, {
        field: 'sandboxIds',
      });
    }
    const { sandboxIds, ...restore } = input;
    const restores = () =>
      Promise.all(
        Array.from({ length: count }, (_, index) =>
          this.restore(
            snapshotId,
            { ...restore, ...(sandboxIds === undefined ? {} : { sandboxId: sandboxIds[index] }) },
            options.idempotencyKey === undefined
              ? {}
              : { idempotencyKey: `${options.idempotencyKey}/${index}` },
          ),
        ),
      );
    // One trace for the fork: each clone's restore is a child of it.
    return tracedEnqueue(this.#tracing, 'fork', undefined, restores);
  }

  /** Pauses a running sandbox: its memory stays in the VMM. */
  pause(sandboxId: string, options: CallOptions = {}): Promise<JobHandle<StateResult>> {
    return this.#onSandbox({ op: 'pause', sandboxId }, options, 'pause');
  }

  /** Resumes a paused sandbox. */
  resume(sandboxId: string, options: CallOptions = {}): Promise<JobHandle<StateResult>> {
    return this.#onSandbox({ op: 'resume', sandboxId }, options, 'resume');
  }

  /** Snapshots memory, device state and disk together; the sandbox keeps running unless told otherwise. */
  snapshot(
    sandboxId: string,
    input: SnapshotInput = {},
    options: CallOptions = {},
  ): Promise<JobHandle<SnapshotResult>> {
    return this.#onSandbox(
      { ...input, op: 'snapshot', sandboxId, snapshotId: input.snapshotId ?? newId('snap') },
      options,
      'snapshot',
    );
  }

  /**
   * Deletes a snapshot from its host (files, record, ledger), as a job in its sandbox's
   * order; it waits for restores reading it. Deleting one already gone is 'already'.
   */
  async deleteSnapshot(
    snapshotId: string,
    options: CallOptions = {},
  ): Promise<JobHandle<DeleteSnapshotResult>> {
    const snapshot = await this.#store.getSnapshot(snapshotId);
    if (snapshot === undefined) throw new NotFoundError(`no snapshot ${snapshotId}`, { snapshotId });
    const payload = parsePayload({ op: 'delete-snapshot', sandboxId: snapshot.sandboxId, snapshotId });
    const ref = await tracedEnqueue(this.#tracing, 'delete-snapshot', snapshot.sandboxId, () =>
      this.#submitter.onHost(snapshot.hostId, payload, options.idempotencyKey),
    );
    return this.#handle(ref, 'delete-snapshot');
  }

  /** Stops the VM and removes everything the sandbox holds on its host. */
  destroy(sandboxId: string, options: CallOptions = {}): Promise<JobHandle<StateResult>> {
    return this.#onSandbox({ op: 'destroy', sandboxId }, options, 'destroy');
  }

  /**
   * Snapshots many sandboxes at once: named ones, or every running or paused one a selector
   * picks. One flow per host; the parent's result lists every snapshot and every failure.
   */
  snapshotBatch(
    target: readonly string[] | SandboxSelector,
    options: BatchOptions = {},
  ): Promise<BatchHandle> {
    return snapshotBatch(this, target, options);
  }

  /**
   * Snapshots sandboxes together at one barrier: all paused, all snapshotted, then all that
   * were running resumed; a member that fails leaves none of the group's snapshots and every
   * member running again. The handle's result lists each member's snapshot and pause time.
   */
  snapshotGroup(sandboxIds: readonly string[], options: { groupId?: string } = {}): Promise<GroupHandle> {
    return snapshotGroup(this, sandboxIds, options);
  }

  /**
   * Streams a snapshot's archive from its host (sparse, checksummed; see snapshot-archive.ts),
   * for a backup or another fleet. Needs the job key: hosts serve snapshots only to it.
   */
  exportSnapshot(snapshotId: string, options: { signal?: AbortSignal } = {}): Promise<SnapshotExport> {
    return exportSnapshot(this, snapshotId, options);
  }

  /**
   * Sends an archive (from exportSnapshot) to a host that keeps it as its own snapshot: the
   * named host, else the live compatible one with the most free disk. Needs the job key.
   */
  importSnapshot(
    archive: AsyncIterable<Uint8Array>,
    options: { hostId?: string; snapshotId?: string } = {},
  ): Promise<ImportAnswer> {
    return importSnapshot(this, archive, options);
  }

  /** Restores a taken group's snapshots together, one new sandbox per member. */
  restoreGroup(
    groupId: string,
    input: { labels?: Record<string, string> } = {},
    options: CallOptions = {},
  ): Promise<JobHandle<SandboxResult>[]> {
    return restoreGroup(this, groupId, input, options);
  }

  /** The fleet's record of a sandbox (retained a while after it is destroyed). */
  get(sandboxId: string): Promise<SandboxRecord | undefined> {
    return this.#store.getSandbox(sandboxId);
  }

  /** Every live sandbox matching a selector (every label given must match), oldest first, read page by page. */
  list(selector: SandboxSelector = {}): Promise<SandboxRecord[]> {
    return this.#store.listSandboxes(selector);
  }

  /** One page of live sandboxes matching a selector; pass the returned cursor to read on. */
  listPage(
    selector: SandboxSelector = {},
    page: { limit?: number; cursor?: string } = {},
  ): Promise<{ records: SandboxRecord[]; cursor?: string }> {
    return this.#store.listPage(selector, page);
  }

  /** Destroyed and failed sandboxes whose records are still retained. */
  listGone(selector: SandboxSelector = {}): Promise<SandboxRecord[]> {
    return this.#store.listGone(selector);
  }

  /** The live hosts, as their last heartbeats describe them: backend, capacity and use, VM pool. */
  hosts(): Promise<HostHeartbeat[]> {
    return this.#store.hosts.liveHosts();
  }

  /** A snapshot's record. */
  getSnapshot(snapshotId: string): Promise<SnapshotRecord | undefined> {
    return this.#store.getSnapshot(snapshotId);
  }

  /** Snapshots matching a query (by host, sandbox, batch, group, series, labels), newest first. */
  listSnapshots(query: SnapshotQuery = {}, limit?: number): Promise<SnapshotRecord[]> {
    return this.#store.listSnapshots(query, limit);
  }

  /**
   * Events in order from `after` (a position from an earlier event; '0' for all kept; default
   * only new ones), until `signal` aborts. Each iterator holds its own connection until it ends.
   */
  async *events(options: EventsOptions = {}): AsyncGenerator<PositionedEvent> {
    const reader = connectRedis(
      this.#options.redisUrl,
      'blocking',
      this.#options.redisTls === undefined ? {} : { tls: this.#options.redisTls },
    );
    reader.on('error', (error) => this.#log.warn({ err: error }, 'event reader connection error'));
    this.#readers.add(reader);
    // An abort ends a blocking read at once instead of at its timeout.
    const onAbort = () => reader.disconnect();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      yield* readEvents(reader, this.#keys, { ...options, logger: this.#log });
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.#readers.delete(reader);
      reader.disconnect();
    }
  }

  /** The position of the newest event ('0-0' when none): `events({ after })` from it reads only what comes next. */
  latestEventPosition(): Promise<string> {
    return lastPosition(this.#redis, this.#keys);
  }

  /** A handle for a job enqueued earlier, by this process or another (its result is untyped). */
  handle(ref: JobRef): JobHandle {
    return new JobHandle(ref, this.#waiter);
  }

  async close(): Promise<void> {
    this.#waiter.close();
    await this.#submitter.close();
    for (const reader of this.#readers) reader.disconnect();
    await Promise.allSettled([this.#subscriber.quit(), this.#redis.quit(), this.#tracing?.flush()]);
  }

  #handle<O extends keyof typeof RESULT_SCHEMAS>(ref: JobRef, op: O) {
    return new JobHandle(
      ref,
      this.#waiter,
      RESULT_SCHEMAS[op] as ZodType<(typeof RESULT_SCHEMAS)[O]['_output']>,
    );
  }

  async #onSandbox<O extends 'pause' | 'resume' | 'snapshot' | 'destroy'>(
    input: JobPayloadInput & { op: O },
    options: CallOptions,
    op: O,
  ) {
    const payload: JobPayload = parsePayload(input);
    const ref = await tracedEnqueue(this.#tracing, op, payload.sandboxId, () =>
      this.#submitter.onSandbox(payload, options.idempotencyKey),
    );
    return this.#handle(ref, op);
  }
}
