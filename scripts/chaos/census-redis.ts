import type { Redis } from 'ioredis';
import { SandboxState } from '../../src/events/event-schemas.ts';
import type { HangarClient } from '../../src/producer/index.ts';
import { KeySpace } from '../../src/queues/names.ts';
import { type QueueProbe, UNFINISHED_STATES } from './queue-probe.ts';

/** Redis state of a run that should be gone when nothing is in flight and every sandbox is destroyed. */
export interface RedisLeaks {
  /** Jobs still waiting, active, delayed... on the host or batch queue. */
  unfinishedJobs: string[];
  /** BullMQ job locks. */
  locks: string[];
  /** Jobs in a queue's stalled set. */
  stalled: string[];
  /** Sandbox records that do not say destroyed or failed. */
  liveRecords: string[];
  /** Hangar keys that hold work in flight or live sandboxes (indexes, reservations, sequences...). */
  transientKeys: string[];
}

/** A sandbox whose job numbers were taken beyond the last one finished: later jobs wait on a gap. */
export interface SequenceHole {
  sandboxId: string;
  taken: number;
  finished: number;
}

/** What the Redis census looks at. */
export interface RedisScope {
  keyPrefix: string;
  hostId: string;
  sandboxIds: readonly string[];
  /** The label every workload sandbox carries (its index must be empty too). */
  label: [string, string];
}

// States in which a sandbox still holds something on its host.
const LIVE_STATES: readonly string[] = SandboxState.options.filter(
  (state) => state !== 'destroyed' && state !== 'failed',
);

/** Reads what of a run's Redis state should be gone by now. */
export async function censusRedis(
  probe: QueueProbe,
  client: HangarClient,
  scope: RedisScope,
): Promise<{ leaks: RedisLeaks; sequenceHoles: SequenceHole[] }> {
  const redis = probe.redis;
  const keys = new KeySpace(scope.keyPrefix);
  const leaks: RedisLeaks = {
    unfinishedJobs: [],
    locks: [],
    stalled: [],
    liveRecords: [],
    transientKeys: [],
  };
  for (const queue of probe.queues) {
    for (const state of UNFINISHED_STATES) {
      const jobs = await queue.getJobs([state], 0, 50);
      if (jobs.length > 0)
        leaks.unfinishedJobs.push(`${queue.name} ${state}: ${jobs.map((job) => job.id).join(' ')}`);
    }
    const stalled = await redis.smembers(`${keys.host(scope.hostId).prefix}:${queue.name}:stalled`);
    if (stalled.length > 0) leaks.stalled.push(`${queue.name}: ${stalled.join(' ')}`);
  }
  leaks.locks = await scan(redis, `${keys.host(scope.hostId).prefix}:*:lock`);

  const sequenceHoles: SequenceHole[] = [];
  for (const sandboxId of scope.sandboxIds) {
    const state = (await client.get(sandboxId))?.state;
    if (state !== undefined && LIVE_STATES.includes(state)) leaks.liveRecords.push(`${sandboxId} (${state})`);
    const [taken, finished] = await redis.mget(
      keys.host(scope.hostId).sequence(sandboxId),
      keys.host(scope.hostId).finishedSequence(sandboxId),
    );
    if (Number(taken ?? 0) > Number(finished ?? 0)) {
      sequenceHoles.push({ sandboxId, taken: Number(taken ?? 0), finished: Number(finished ?? 0) });
    }
  }
  for (const key of transientKeys(keys, scope)) {
    const held = await holding(redis, key);
    if (held !== undefined) leaks.transientKeys.push(held);
  }
  for (const [key, fields] of sumKeys(keys, scope)) {
    const sums = await redis.hgetall(key).catch(() => ({}) as Record<string, string>);
    const nonZero = Object.entries(sums).filter(([field, value]) => fields(field) && Number(value) !== 0);
    if (nonZero.length > 0)
      leaks.transientKeys.push(`${key}: ${nonZero.map(([f, v]) => `${f}=${v}`).join(' ')}`);
  }
  return { leaks, sequenceHoles };
}

/** How many Redis leaks a census found. */
export function countRedisLeaks(leaks: RedisLeaks): number {
  return Object.values(leaks).reduce((sum, list) => sum + list.length, 0);
}

/** Every key matching a glob pattern. */
export async function scan(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found.sort();
}

// Keys that hold only work in flight, live sandboxes or events not yet forwarded: empty once
// nothing runs and all is destroyed.
function transientKeys(keys: KeySpace, scope: RedisScope): string[] {
  const host = keys.host(scope.hostId);
  return [
    host.liveIndex(),
    host.outbox(),
    ...scope.sandboxIds.map((id) => host.sequenceJobs(id)),
    host.reservations(),
    host.lost(),
    ...LIVE_STATES.map((state) => host.stateIndex(state)),
    host.labelIndex(...scope.label),
  ];
}

// Hashes of counters whose (some) fields must be back to 0: reserved capacity, live-state counts.
function sumKeys(keys: KeySpace, scope: RedisScope): [string, (field: string) => boolean][] {
  const host = keys.host(scope.hostId);
  return [
    [host.reserved(), () => true],
    [host.stateCounts(), (field: string) => LIVE_STATES.includes(field)],
  ];
}

// A key's content in one line when it holds anything, whatever its type.
async function holding(redis: Redis, key: string): Promise<string | undefined> {
  const type = await redis.type(key);
  const size: Record<string, () => Promise<number>> = {
    hash: () => redis.hlen(key),
    set: () => redis.scard(key),
    zset: () => redis.zcard(key),
    list: () => redis.llen(key),
    stream: () => redis.xlen(key),
    string: async () => 1,
  };
  const count = type === 'none' ? 0 : await (size[type] ?? (async () => 1))();
  return count > 0 ? `${key} (${type}, ${count})` : undefined;
}
