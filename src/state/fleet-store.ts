import type { z } from 'zod';
import { CorruptStateError } from '../errors/index.ts';
import { HangarEvent, type SandboxState } from '../events/event-schemas.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import type { HostKeys, KeySpace, OutcomeHome } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import { BatchStore } from './batch-store.ts';
import { GroupStore } from './group-store.ts';
import { HostRegistry } from './host-registry.ts';
import { JobSequences } from './job-sequences.ts';
import { JobOutcome, SandboxRecord, SnapshotRecord } from './record-schemas.ts';
import { SandboxDirectory } from './sandbox-directory.ts';
import { matches, pageAcrossHosts, type SandboxPage, type SandboxQuery } from './sandbox-listing.ts';
import { PUT_SANDBOX_LUA } from './scripts/record-scripts.ts';
import { RedisScript } from './scripts/run-script.ts';
import { type SnapshotQuery, SnapshotStore } from './snapshot-store.ts';

export type { SandboxPage, SandboxQuery } from './sandbox-listing.ts';

/**
 * How long a job's outcome and its idempotency key are kept: a day, the usual window for
 * retrying a call with the same key. The key must not outlive the outcome (a repeat that
 * found the key but no outcome and no job would add the job again).
 */
export const OUTCOME_TTL_SECONDS = 24 * 3600;

/** How long a destroyed or failed sandbox's record (and its sequence keys) is kept by default. */
export const DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600;

const putSandboxScript = new RedisScript(PUT_SANDBOX_LUA);

/** A job's outcome, found by where it lives and its id. */
export interface OutcomeRef {
  home: OutcomeHome;
  jobId: string;
}

/**
 * The fleet's records in Redis: sandboxes (on their host's slot, with its indexes), the
 * directory of which host holds each, snapshots, job outcomes and batches, plus the job
 * sequences and the host registry. Every read is validated: a corrupt record read by id is
 * a CorruptStateError naming its key; a listing skips it and counts it.
 */
export class FleetStore {
  readonly redis: RedisClient;
  readonly keys: KeySpace;
  readonly sequences: JobSequences;
  readonly hosts: HostRegistry;
  readonly directory: SandboxDirectory;
  readonly batches: BatchStore;
  readonly snapshots: SnapshotStore;
  readonly groups: GroupStore;
  readonly #log: Logger;
  #corrupt = 0;

  constructor(redis: RedisClient, keys: KeySpace, options: { logger?: Logger } = {}) {
    this.redis = redis;
    this.keys = keys;
    this.#log = options.logger ?? silentLogger;
    this.sequences = new JobSequences(redis, keys);
    this.hosts = new HostRegistry(redis, keys, (key, value) => this.#skipCorrupt(key, value));
    this.directory = new SandboxDirectory(redis, keys);
    this.batches = new BatchStore(redis, keys);
    this.snapshots = new SnapshotStore(redis, keys, (key, error) => this.#skipCorrupt(key, error));
    this.groups = new GroupStore(redis, keys);
  }

  /** How many corrupt records listings have skipped since this store was made. */
  get corruptSkipped(): number {
    return this.#corrupt;
  }

  /**
   * Writes a sandbox record with its host's indexes and counters in one step; with `event`,
   * the state event goes out in the same step when the state really changed. A destroyed or
   * failed record leaves the indexes and expires after the retention.
   */
  async putSandbox(
    record: SandboxRecord,
    options: { event?: HangarEvent; retentionSeconds?: number } = {},
  ): Promise<void> {
    const checked = SandboxRecord.parse(record);
    const h = this.keys.host(checked.hostId);
    const f = this.keys.fleet;
    await putSandboxScript.run(
      this.redis,
      [h.sandbox(checked.sandboxId)],
      [
        `${h.prefix}:`,
        checked.sandboxId,
        JSON.stringify(checked),
        options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS,
        options.event === undefined ? '' : JSON.stringify(HangarEvent.parse(options.event)),
        f.fleetChannel(),
        f.sandboxChannel(checked.sandboxId),
      ],
    );
  }

  /**
   * A sandbox's record (its host from `hostId`, else the directory); throws
   * CorruptStateError when it does not parse.
   */
  async getSandbox(sandboxId: string, hostId?: string): Promise<SandboxRecord | undefined> {
    const host = hostId ?? (await this.directory.hostOf(sandboxId));
    if (host === undefined) return undefined;
    const key = this.keys.host(host).sandbox(sandboxId);
    return parseStrict(SandboxRecord, key, await this.redis.get(key));
  }

  /**
   * One page of live sandboxes matching `query`, oldest first: from the query's host alone,
   * else merged across every known host, each read from its most selective index (a label,
   * else the state, else all live). Pass the returned cursor to read on; none means the end.
   */
  async listPage(
    query: SandboxQuery = {},
    page: { limit?: number; cursor?: string } = {},
  ): Promise<SandboxPage> {
    const limit = Math.max(1, Math.min(page.limit ?? 100, 1_000));
    const hostIds = query.hostId === undefined ? await this.hosts.knownHosts() : [query.hostId];
    return pageAcrossHosts(
      this.redis,
      hostIds.map((id) => this.keys.host(id)),
      query,
      { limit, ...(page.cursor === undefined ? {} : { cursor: page.cursor }) },
      (host, ids) => this.#readRecords(host, ids),
    );
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

  /** Destroyed and failed sandboxes whose records are still retained, at most `limit` per host. */
  async listGone(query: SandboxQuery = {}, limit = 1_000): Promise<SandboxRecord[]> {
    const hostIds = query.hostId === undefined ? await this.hosts.knownHosts() : [query.hostId];
    const perHost = await Promise.all(
      hostIds.map(async (hostId) => {
        const host = this.keys.host(hostId);
        const members = await this.redis.zrangebyscore(
          host.goneIndex(),
          Date.now(),
          '+inf',
          'LIMIT',
          0,
          limit,
        );
        return this.#readRecords(
          host,
          members.map((member) => member.slice(member.lastIndexOf('|') + 1)),
        );
      }),
    );
    return perHost.flat().filter((record) => matches(record, query));
  }

  /** Sandboxes by state, summed from each host's counters (exact for live states; destroyed and failed are cumulative). */
  async countsByState(): Promise<Partial<Record<SandboxState, number>>> {
    const hostIds = await this.hosts.knownHosts();
    const perHost = await Promise.all(
      hostIds.map((id) => this.redis.hgetall(this.keys.host(id).stateCounts())),
    );
    const sums: Record<string, number> = {};
    for (const counts of perHost) {
      for (const [state, count] of Object.entries(counts)) sums[state] = (sums[state] ?? 0) + Number(count);
    }
    return Object.fromEntries(Object.entries(sums).filter(([, count]) => count !== 0));
  }

  /** Events written with their changes but not yet forwarded to the fleet's stream (every host's outbox). */
  async unforwardedEvents(): Promise<number> {
    const hostIds = await this.hosts.knownHosts();
    const lengths = await Promise.all(hostIds.map((id) => this.redis.llen(this.keys.host(id).outbox())));
    return lengths.reduce((sum, length) => sum + length, 0);
  }

  async putSnapshot(record: SnapshotRecord): Promise<void> {
    await this.snapshots.put(record);
  }

  async getSnapshot(snapshotId: string): Promise<SnapshotRecord | undefined> {
    const key = this.keys.fleet.snapshot(snapshotId);
    return parseStrict(SnapshotRecord, key, await this.redis.get(key));
  }

  /** Snapshots matching `query`, newest first. */
  listSnapshots(query: SnapshotQuery = {}, limit?: number): Promise<SnapshotRecord[]> {
    return this.snapshots.list(query, limit);
  }

  /**
   * Writes a job's outcome; with `ifNone`, only where the job has none yet (a refused job must
   * not overwrite the outcome of a real job whose id it reused). Whether it was written.
   */
  async putOutcome(
    home: OutcomeHome,
    jobId: string,
    outcome: JobOutcome,
    options: { ifNone?: boolean } = {},
  ): Promise<boolean> {
    const checked = JobOutcome.parse(outcome);
    const key = this.keys.outcome(home, jobId);
    const json = JSON.stringify(checked);
    const written = options.ifNone
      ? await this.redis.set(key, json, 'EX', OUTCOME_TTL_SECONDS, 'NX')
      : await this.redis.set(key, json, 'EX', OUTCOME_TTL_SECONDS);
    return written === 'OK';
  }

  async getOutcome(home: OutcomeHome, jobId: string): Promise<JobOutcome | undefined> {
    const key = this.keys.outcome(home, jobId);
    return parseStrict(JobOutcome, key, await this.redis.get(key));
  }

  /**
   * Outcomes of many jobs, one read per slot they live on (undefined where there is none
   * yet, or it is corrupt).
   */
  async getOutcomes(refs: readonly OutcomeRef[]): Promise<(JobOutcome | undefined)[]> {
    const byHome = new Map<OutcomeHome, number[]>();
    for (const [index, ref] of refs.entries()) byHome.set(ref.home, [...(byHome.get(ref.home) ?? []), index]);
    const found: (JobOutcome | undefined)[] = new Array(refs.length).fill(undefined);
    await Promise.all(
      [...byHome].map(async ([home, indexes]) => {
        const keys = indexes.map((index) => this.keys.outcome(home, refs[index]!.jobId));
        const values = await this.redis.mget(keys);
        values.forEach((value, at) => {
          found[indexes[at]!] = this.#parseLenient(JobOutcome, keys[at]!, value);
        });
      }),
    );
    return found;
  }

  async #readRecords(host: HostKeys, ids: string[]): Promise<SandboxRecord[]> {
    if (ids.length === 0) return [];
    const keys = ids.map((id) => host.sandbox(id));
    const values = await this.redis.mget(keys);
    return values.flatMap((value, index) => this.#parseLenient(SandboxRecord, keys[index]!, value) ?? []);
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
