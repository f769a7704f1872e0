import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { CorruptStateError } from '../errors/index.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import type { KeySpace } from '../queues/names.ts';
import { HostRegistry } from './host-registry.ts';
import { JobSequences } from './job-sequences.ts';
import {
  BatchRecord,
  type HostHeartbeat,
  JobOutcome,
  SandboxRecord,
  SnapshotRecord,
} from './record-schemas.ts';

/** How long a job outcome and an idempotency key are kept. */
export const OUTCOME_TTL_SECONDS = 7 * 24 * 3600;

/** States in which a sandbox no longer holds anything on its host. */
const GONE = new Set(['destroyed', 'failed']);

/**
 * The fleet's records in Redis: sandboxes (indexed by host), snapshots, job outcomes and
 * batches, plus the job sequences and the host registry. Every read is validated: a corrupt
 * record read by id is a CorruptStateError naming its key; a listing skips it and counts it.
 */
export class FleetStore {
  readonly redis: Redis;
  readonly keys: KeySpace;
  readonly sequences: JobSequences;
  readonly hosts: HostRegistry;
  readonly #log: Logger;
  #corrupt = 0;

  constructor(redis: Redis, keys: KeySpace, options: { logger?: Logger } = {}) {
    this.redis = redis;
    this.keys = keys;
    this.#log = options.logger ?? silentLogger;
    this.sequences = new JobSequences(redis, keys);
    this.hosts = new HostRegistry(redis, keys, (key, value) => this.#skipCorrupt(key, value));
  }

  /** How many corrupt records listings have skipped since this store was made. */
  get corruptSkipped(): number {
    return this.#corrupt;
  }

  async putSandbox(record: SandboxRecord): Promise<void> {
    const checked = SandboxRecord.parse(record);
    const multi = this.redis
      .multi()
      .set(this.keys.sandbox(checked.sandboxId), JSON.stringify(checked))
      .sadd(this.keys.sandboxes(), checked.sandboxId);
    if (GONE.has(checked.state)) multi.srem(this.keys.hostSandboxes(checked.hostId), checked.sandboxId);
    else multi.sadd(this.keys.hostSandboxes(checked.hostId), checked.sandboxId);
    await multi.exec();
  }

  /** A sandbox's record; throws CorruptStateError when it does not parse. */
  async getSandbox(sandboxId: string): Promise<SandboxRecord | undefined> {
    const key = this.keys.sandbox(sandboxId);
    return parseStrict(SandboxRecord, key, await this.redis.get(key));
  }

  /** Every readable sandbox record (corrupt ones are logged, counted and skipped). */
  async listSandboxes(): Promise<SandboxRecord[]> {
    return this.#readAll(SandboxRecord, await this.redis.smembers(this.keys.sandboxes()), (id) =>
      this.keys.sandbox(id),
    );
  }

  /** The records of the sandboxes a host holds (not destroyed or failed). */
  async hostSandboxes(hostId: string): Promise<SandboxRecord[]> {
    return this.#readAll(SandboxRecord, await this.redis.smembers(this.keys.hostSandboxes(hostId)), (id) =>
      this.keys.sandbox(id),
    );
  }

  /** Writes a heartbeat that expires after `ttlMs` unless renewed (see HostRegistry for the worker's own). */
  beat(heartbeat: HostHeartbeat, ttlMs: number): Promise<void> {
    return this.hosts.publishBeat(heartbeat, ttlMs);
  }

  /** Hosts whose heartbeat is still alive. */
  liveHosts(): Promise<HostHeartbeat[]> {
    return this.hosts.liveHosts();
  }

  /** Every host that ever registered, alive or not. */
  knownHosts(): Promise<string[]> {
    return this.hosts.knownHosts();
  }

  async putSnapshot(record: SnapshotRecord): Promise<void> {
    const checked = SnapshotRecord.parse(record);
    await this.redis
      .multi()
      .set(this.keys.snapshot(checked.snapshotId), JSON.stringify(checked))
      .sadd(this.keys.snapshots(), checked.snapshotId)
      .exec();
  }

  async getSnapshot(snapshotId: string): Promise<SnapshotRecord | undefined> {
    const key = this.keys.snapshot(snapshotId);
    return parseStrict(SnapshotRecord, key, await this.redis.get(key));
  }

  async listSnapshots(): Promise<SnapshotRecord[]> {
    return this.#readAll(SnapshotRecord, await this.redis.smembers(this.keys.snapshots()), (id) =>
      this.keys.snapshot(id),
    );
  }

  async putOutcome(jobId: string, outcome: JobOutcome): Promise<void> {
    const checked = JobOutcome.parse(outcome);
    await this.redis.set(this.keys.jobOutcome(jobId), JSON.stringify(checked), 'EX', OUTCOME_TTL_SECONDS);
  }

  async getOutcome(jobId: string): Promise<JobOutcome | undefined> {
    const key = this.keys.jobOutcome(jobId);
    return parseStrict(JobOutcome, key, await this.redis.get(key));
  }

  /** Outcomes of many jobs in one round trip (undefined where there is none yet, or it is corrupt). */
  async getOutcomes(jobIds: readonly string[]): Promise<(JobOutcome | undefined)[]> {
    if (jobIds.length === 0) return [];
    const values = await this.redis.mget(jobIds.map((id) => this.keys.jobOutcome(id)));
    return values.map((value, index) =>
      this.#parseLenient(JobOutcome, this.keys.jobOutcome(jobIds[index]!), value),
    );
  }

  /** Writes a batch's record: its children's sandboxes, its size and its per-host concurrency. */
  async putBatch(record: BatchRecord): Promise<void> {
    const checked = BatchRecord.parse(record);
    await this.redis.set(
      this.keys.batch(checked.batchId),
      JSON.stringify(checked),
      'EX',
      OUTCOME_TTL_SECONDS,
    );
  }

  async getBatch(batchId: string): Promise<BatchRecord | undefined> {
    const key = this.keys.batch(batchId);
    return parseStrict(BatchRecord, key, await this.redis.get(key));
  }

  /**
   * Counts a finished child into its batch once, whatever redelivers it, and returns the
   * batch's progress (done, failed, total).
   */
  async countBatchChild(
    batchId: string,
    jobId: string,
    ok: boolean,
  ): Promise<{ done: number; failed: number; total: number }> {
    const counted = this.keys.batchCounted(batchId);
    const results = await this.redis
      .multi()
      .hsetnx(counted, jobId, ok ? 'done' : 'failed')
      .expire(counted, OUTCOME_TTL_SECONDS)
      .hvals(counted)
      .exec();
    const values = (results?.[2]?.[1] as string[] | undefined) ?? [];
    const batch = await this.getBatch(batchId);
    return {
      done: values.filter((value) => value === 'done').length,
      failed: values.filter((value) => value === 'failed').length,
      total: batch?.total ?? values.length,
    };
  }

  async #readAll<T>(schema: z.ZodType<T>, ids: string[], keyOf: (id: string) => string): Promise<T[]> {
    if (ids.length === 0) return [];
    const keys = ids.map(keyOf);
    const values = await this.redis.mget(keys);
    return values.flatMap((value, index) => this.#parseLenient(schema, keys[index]!, value) ?? []);
  }

  #parseLenient<T>(schema: z.ZodType<T>, key: string, value: string | null): T | undefined {
    try {
      return parseStrict(schema, key, value);
    } catch (error) {
      this.#skipCorrupt(key, error);
      return undefined;
    }
  }

  #skipCorrupt(key: string, error: unknown): void {
    this.#corrupt += 1;
    this.#log.warn({ key, err: error }, 'skipped a corrupt record');
  }
}

/** Parses a stored JSON record; a value that does not parse is a CorruptStateError naming its key. */
export function parseStrict<T>(schema: z.ZodType<T>, key: string, value: string | null): T | undefined {
  if (value === null) return undefined;
  try {
    return schema.parse(JSON.parse(value));
  } catch (error) {
    throw new CorruptStateError(key, error);
  }
}
