import type { KeySpace } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import { SnapshotRecord } from './record-schemas.ts';
import { RetentionPolicy } from './retention-policy.ts';

/** What a snapshot listing selects (every condition given must hold). */
export interface SnapshotQuery {
  hostId?: string;
  sandboxId?: string;
  batchId?: string;
  groupId?: string;
  series?: string;
  labels?: Record<string, string>;
}

/**
 * Snapshot records on the fleet's slot, each written with its indexes (all, by host, by
 * sandbox, batch, group, series and label; sorted sets scored by creation time) in one
 * MULTI, and removed the same way, so a listing never reads every snapshot.
 */
export class SnapshotStore {
  readonly #redis: RedisClient;
  readonly #keys: KeySpace;
  readonly #onCorrupt: (key: string, error: unknown) => void;

  constructor(redis: RedisClient, keys: KeySpace, onCorrupt: (key: string, error: unknown) => void) {
    this.#redis = redis;
    this.#keys = keys;
    this.#onCorrupt = onCorrupt;
  }

  async put(record: SnapshotRecord): Promise<void> {
    const checked = SnapshotRecord.parse(record);
    const f = this.#keys.fleet;
    const score = Date.parse(checked.createdAt);
    const multi = this.#redis
      .multi()
      .set(f.snapshot(checked.snapshotId), JSON.stringify(checked))
      .sadd(f.snapshots(), checked.snapshotId);
    for (const index of this.#indexes(checked)) multi.zadd(index, score, checked.snapshotId);
    await multi.exec();
  }

  async get(snapshotId: string): Promise<SnapshotRecord | undefined> {
    const key = this.#keys.fleet.snapshot(snapshotId);
    const value = await this.#redis.get(key);
    if (value === null) return undefined;
    try {
      return SnapshotRecord.parse(JSON.parse(value));
    } catch (error) {
      this.#onCorrupt(key, error);
      throw error;
    }
  }

  /** Removes a record and its indexes; returns whether there was one. */
  async remove(record: SnapshotRecord): Promise<boolean> {
    const f = this.#keys.fleet;
    const multi = this.#redis
      .multi()
      .del(f.snapshot(record.snapshotId))
      .srem(f.snapshots(), record.snapshotId);
    for (const index of this.#indexes(record)) multi.zrem(index, record.snapshotId);
    const results = await multi.exec();
    return Number(results?.[0]?.[1] ?? 0) > 0;
  }

  /** Sets a series' retention policy (a batch pipeline sets it when it starts; workers apply it). */
  async setPolicy(series: string, policy: RetentionPolicy): Promise<void> {
    await this.#redis.set(
      this.#keys.fleet.snapshotPolicy(series),
      JSON.stringify(RetentionPolicy.parse(policy)),
    );
  }

  /** A series' retention policy, if one was set. */
  async policy(series: string): Promise<RetentionPolicy | undefined> {
    const value = await this.#redis.get(this.#keys.fleet.snapshotPolicy(series));
    if (value === null) return undefined;
    const parsed = RetentionPolicy.safeParse(safeJson(value));
    if (parsed.success) return parsed.data;
    this.#onCorrupt(this.#keys.fleet.snapshotPolicy(series), parsed.error);
    return undefined;
  }

  /** Snapshots matching `query`, newest first, at most `limit`, from the most selective index. */
  async list(query: SnapshotQuery = {}, limit = 1_000): Promise<SnapshotRecord[]> {
    const f = this.#keys.fleet;
    const [labelKey, labelValue] = Object.entries(query.labels ?? {})[0] ?? [];
    const index =
      query.sandboxId !== undefined
        ? f.snapshotIndex('sandbox', query.sandboxId)
        : query.groupId !== undefined
          ? f.snapshotIndex('group', query.groupId)
          : query.batchId !== undefined
            ? f.snapshotIndex('batch', query.batchId)
            : query.series !== undefined
              ? f.snapshotIndex('series', query.series)
              : labelKey !== undefined
                ? f.snapshotIndex('label', `${labelKey}=${labelValue}`)
                : query.hostId !== undefined
                  ? f.snapshotIndex('host', query.hostId)
                  : f.snapshotIndex('all', '');
    const ids = await this.#redis.zrevrange(index, 0, limit - 1);
    if (ids.length === 0) return [];
    const keys = ids.map((id) => f.snapshot(id));
    const values = await this.#redis.mget(keys);
    const records: SnapshotRecord[] = [];
    for (const [position, value] of values.entries()) {
      if (value === null) continue;
      const parsed = SnapshotRecord.safeParse(safeJson(value));
      if (!parsed.success) {
        this.#onCorrupt(keys[position]!, parsed.error);
        continue;
      }
      if (matches(parsed.data, query)) records.push(parsed.data);
    }
    return records;
  }

  #indexes(record: SnapshotRecord): string[] {
    const f = this.#keys.fleet;
    return [
      f.snapshotIndex('all', ''),
      f.snapshotIndex('host', record.hostId),
      f.snapshotIndex('sandbox', record.sandboxId),
      ...(record.batchId === undefined ? [] : [f.snapshotIndex('batch', record.batchId)]),
      ...(record.groupId === undefined ? [] : [f.snapshotIndex('group', record.groupId)]),
      ...(record.series === undefined ? [] : [f.snapshotIndex('series', record.series)]),
      ...Object.entries(record.labels).map(([key, value]) => f.snapshotIndex('label', `${key}=${value}`)),
    ];
  }
}

function matches(record: SnapshotRecord, query: SnapshotQuery): boolean {
  return (
    (query.hostId === undefined || record.hostId === query.hostId) &&
    (query.sandboxId === undefined || record.sandboxId === query.sandboxId) &&
    (query.batchId === undefined || record.batchId === query.batchId) &&
    (query.groupId === undefined || record.groupId === query.groupId) &&
    (query.series === undefined || record.series === query.series) &&
    Object.entries(query.labels ?? {}).every(([key, value]) => record.labels[key] === value)
  );
}

function safeJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
