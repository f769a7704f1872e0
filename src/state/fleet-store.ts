import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { CorruptStateError } from '../errors/index.ts';
import { DEFAULT_STREAM_LENGTH } from '../events/event-publisher.ts';
import { HangarEvent, type SandboxState } from '../events/event-schemas.ts';
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
import { PUT_SANDBOX_LUA } from './scripts/record-scripts.ts';
import { RedisScript } from './scripts/run-script.ts';

/** How long a job outcome and an idempotency key are kept. */
export const OUTCOME_TTL_SECONDS = 7 * 24 * 3600;

/** How long a destroyed or failed sandbox's record (and its sequence keys) is kept by default. */
export const DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600;

const putSandboxScript = new RedisScript(PUT_SANDBOX_LUA);

/** What a listing selects: every condition given must hold (every label given must match). */
export interface SandboxQuery {
  hostId?: string;
  state?: SandboxState;
  labels?: Record<string, string>;
}

function matches(record: SandboxRecord, query: SandboxQuery): boolean {
  return (
    (query.hostId === undefined || record.hostId === query.hostId) &&
    (query.state === undefined || record.state === query.state) &&
    Object.entries(query.labels ?? {}).every(([key, value]) => record.labels[key] === value)
  );
}

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

  /**
   * Writes a sandbox record with its indexes and counters in one step; with `event`, the
   * state event is published in the same step when the state really changed. A destroyed or
   * failed record leaves the indexes and expires after the retention.
   */
  async putSandbox(
    record: SandboxRecord,
    options: { event?: HangarEvent; retentionSeconds?: number } = {},
  ): Promise<void> {
    const checked = SandboxRecord.parse(record);
    const k = this.keys;
    await putSandboxScript.run(
      this.redis,
      [k.sandbox(checked.sandboxId), k.eventStream()],
      [
        `${k.prefix}:`,
        checked.sandboxId,
        JSON.stringify(checked),
        options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS,
        options.event === undefined ? '' : JSON.stringify(HangarEvent.parse(options.event)),
        k.fleetChannel(),
        k.sandboxChannel(checked.sandboxId),
        DEFAULT_STREAM_LENGTH,
      ],
    );
  }

  /** A sandbox's record; throws CorruptStateError when it does not parse. */
  async getSandbox(sandboxId: string): Promise<SandboxRecord | undefined> {
    const key = this.keys.sandbox(sandboxId);
    return parseStrict(SandboxRecord, key, await this.redis.get(key));
  }

  /**
   * One page of live sandboxes matching `query`, oldest first, from the most selective index
   * the query names (a label, else the host, else the state, else all live); the rest of the
   * query filters each page. Pass the returned cursor to read on; none means the end.
   */
  async listPage(
    query: SandboxQuery = {},
    page: { limit?: number; cursor?: string } = {},
  ): Promise<{ records: SandboxRecord[]; cursor?: string }> {
    const limit = Math.max(1, Math.min(page.limit ?? 100, 1_000));
    const [labelKey, labelValue] = Object.entries(query.labels ?? {})[0] ?? [];
    const index =
      labelKey !== undefined
        ? this.keys.labelIndex(labelKey, labelValue!)
        : query.hostId !== undefined
          ? this.keys.hostIndex(query.hostId)
          : query.state !== undefined
            ? this.keys.stateIndex(query.state)
            : this.keys.liveIndex();
    const records: SandboxRecord[] = [];
    let after = page.cursor;
    // Bounded: a page scans at most ten index pages when the other conditions filter hard.
    for (let round = 0; round < 10 && records.length < limit; round += 1) {
      const members = await this.redis.zrangebylex(
        index,
        after === undefined ? '-' : `(${after}`,
        '+',
        'LIMIT',
        0,
        limit,
      );
      if (members.length === 0) return { records };
      after = members.at(-1);
      const ids = members.map((member) => member.slice(member.lastIndexOf('|') + 1));
      const found = await this.#readAll(SandboxRecord, ids, (id) => this.keys.sandbox(id));
      records.push(...found.filter((record) => matches(record, query)));
      if (members.length < limit) return { records };
    }
    return { records, cursor: after };
  }

  /** Every live sandbox matching `query`, read page by page. */
  async listSandboxes(query: SandboxQuery = {}): Promise<SandboxRecord[]> {
    const all: SandboxRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.listPage(query, { limit: 500, ...(cursor === undefined ? {} : { cursor }) });
      all.push(...page.records);
      cursor = page.cursor;
    } while (cursor !== undefined);
    return all;
  }

  /** Destroyed and failed sandboxes whose records are still retained (newest last), at most `limit`. */
  async listGone(query: SandboxQuery = {}, limit = 1_000): Promise<SandboxRecord[]> {
    const members = await this.redis.zrangebyscore(
      this.keys.goneIndex(),
      Date.now(),
      '+inf',
      'LIMIT',
      0,
      limit,
    );
    const ids = members.map((member) => member.slice(member.lastIndexOf('|') + 1));
    const records = await this.#readAll(SandboxRecord, ids, (id) => this.keys.sandbox(id));
    return records.filter((record) => matches(record, query));
  }

  /** Sandboxes by state, from counters (exact for live states; destroyed and failed are cumulative). */
  async countsByState(): Promise<Partial<Record<SandboxState, number>>> {
    const counts = await this.redis.hgetall(this.keys.stateCounts());
    return Object.fromEntries(
      Object.entries(counts)
        .map(([state, count]) => [state, Number(count)] as const)
        .filter(([, count]) => count !== 0),
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
