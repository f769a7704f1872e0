import type { Redis } from 'ioredis';
import type { z } from 'zod';
import type { KeySpace } from '../queues/names.ts';
import { HostHeartbeat, JobOutcome, SandboxRecord, SnapshotRecord } from './record-schemas.ts';

/** How long a job outcome and an idempotency key are kept. */
export const OUTCOME_TTL_SECONDS = 7 * 24 * 3600;

/**
 * The fleet's records in Redis: sandboxes, snapshots, heartbeats, job outcomes and
 * idempotency keys. Every read is validated, so a corrupt record is an error, not a guess.
 */
export class FleetStore {
  readonly redis: Redis;
  readonly keys: KeySpace;

  constructor(redis: Redis, keys: KeySpace) {
    this.redis = redis;
    this.keys = keys;
  }

  async putSandbox(record: SandboxRecord): Promise<void> {
    const checked = SandboxRecord.parse(record);
    await this.redis
      .multi()
      .set(this.keys.sandbox(checked.sandboxId), JSON.stringify(checked))
      .sadd(this.keys.sandboxes(), checked.sandboxId)
      .exec();
  }

  async getSandbox(sandboxId: string): Promise<SandboxRecord | undefined> {
    return parseOptional(SandboxRecord, await this.redis.get(this.keys.sandbox(sandboxId)));
  }

  /** Every sandbox record (the fleet is small enough to read whole; selectors filter in memory). */
  async listSandboxes(): Promise<SandboxRecord[]> {
    const ids = await this.redis.smembers(this.keys.sandboxes());
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => this.keys.sandbox(id)));
    return values.flatMap((value) => parseOptional(SandboxRecord, value) ?? []);
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
    return parseOptional(SnapshotRecord, await this.redis.get(this.keys.snapshot(snapshotId)));
  }

  async listSnapshots(): Promise<SnapshotRecord[]> {
    const ids = await this.redis.smembers(this.keys.snapshots());
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => this.keys.snapshot(id)));
    return values.flatMap((value) => parseOptional(SnapshotRecord, value) ?? []);
  }

  /** Writes a heartbeat that expires after `ttlMs` unless renewed. */
  async beat(heartbeat: HostHeartbeat, ttlMs: number): Promise<void> {
    const checked = HostHeartbeat.parse(heartbeat);
    await this.redis
      .multi()
      .set(this.keys.heartbeat(checked.hostId), JSON.stringify(checked), 'PX', ttlMs)
      .sadd(this.keys.hosts(), checked.hostId)
      .exec();
  }

  /** Hosts whose heartbeat is still alive. */
  async liveHosts(): Promise<HostHeartbeat[]> {
    const ids = await this.redis.smembers(this.keys.hosts());
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => this.keys.heartbeat(id)));
    return values.flatMap((value) => parseOptional(HostHeartbeat, value) ?? []);
  }

  /** Every host that ever registered, alive or not. */
  async knownHosts(): Promise<string[]> {
    return this.redis.smembers(this.keys.hosts());
  }

  async putOutcome(jobId: string, outcome: JobOutcome): Promise<void> {
    const checked = JobOutcome.parse(outcome);
    await this.redis.set(this.keys.jobOutcome(jobId), JSON.stringify(checked), 'EX', OUTCOME_TTL_SECONDS);
  }

  async getOutcome(jobId: string): Promise<JobOutcome | undefined> {
    return parseOptional(JobOutcome, await this.redis.get(this.keys.jobOutcome(jobId)));
  }

  /**
   * Claims an idempotency key for `value` (a job reference); returns the value already
   * stored when the key was claimed before, so a repeat maps to the first job.
   */
  async claimIdempotencyKey(key: string, value: string): Promise<string | undefined> {
    const redisKey = this.keys.idempotency(key);
    const claimed = await this.redis.set(redisKey, value, 'EX', OUTCOME_TTL_SECONDS, 'NX');
    if (claimed === 'OK') return undefined;
    return (await this.redis.get(redisKey)) ?? undefined;
  }

  /** The next sequence number for a sandbox's jobs. */
  async nextSequence(sandboxId: string): Promise<number> {
    return this.redis.incr(this.keys.sequence(sandboxId));
  }

  /** The highest finished sequence number of a sandbox (0 when none). */
  async finishedSequence(sandboxId: string): Promise<number> {
    return Number((await this.redis.get(this.keys.finishedSequence(sandboxId))) ?? 0);
  }

  /** Marks sequence `seq` finished; never moves backwards (a late duplicate cannot rewind it). */
  async markSequenceFinished(sandboxId: string, seq: number): Promise<void> {
    const key = this.keys.finishedSequence(sandboxId);
    await this.redis.eval(
      "local cur = tonumber(redis.call('GET', KEYS[1]) or '0'); if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end",
      1,
      key,
      String(seq),
    );
  }
}

function parseOptional<T>(schema: z.ZodType<T>, value: string | null): T | undefined {
  if (value === null) return undefined;
  return schema.parse(JSON.parse(value));
}
