// What one live sandbox costs Redis, everything included: the keys named after it or after
// one of its jobs (record, sequence keys, BullMQ job hashes, outcomes) by MEMORY USAGE, plus
// its share of every shared structure that holds it (indexes, reservations, a queue's sets
// and lists, event streams): the structure's MEMORY USAGE times the share of its members
// that name the sandbox or one of its jobs. Keys are found by what they hold, not by a
// list of names, so the figure follows the key space as it changes.
import type { Redis } from 'ioredis';

/** Bytes by kind of key, and their sum. */
export interface LiveSandboxBytes {
  total: number;
  byKind: Record<string, number>;
  ownKeys: number;
  sharedKeys: number;
}

/** How many entries of a stream are read per XRANGE while counting a sandbox's share. */
const STREAM_PAGE = 1_000;

/** Scans every key under `keyPrefix` and prices what `sandboxId` and its jobs hold. */
export async function liveSandboxBytes(
  redis: Redis,
  keyPrefix: string,
  sandboxId: string,
  jobIds: readonly string[],
): Promise<LiveSandboxBytes> {
  // A job id that contains the sandbox id (hangar's do) is found by the sandbox id alone:
  // keeping both would count its members twice.
  const names = [sandboxId, ...jobIds.filter((jobId) => !jobId.includes(sandboxId))];
  const byKind: Record<string, number> = {};
  const add = (kind: string, bytes: number) => {
    byKind[kind] = (byKind[kind] ?? 0) + bytes;
  };
  let ownKeys = 0;
  let sharedKeys = 0;
  const keys = await scanAll(redis, `${keyPrefix}:*`);
  const types = await pipelined(redis, keys, (key) => ['type', key]);
  const mine = (text: string) => names.some((name) => text.includes(name));
  const own = keys.filter((key) => mine(key));
  const usage = await pipelined(redis, own, (key) => ['memory', 'usage', key, 'samples', '0']);
  own.forEach((key, index) => {
    add(kindOf(key), Number(usage[index] ?? 0));
    ownKeys += 1;
  });
  for (const [index, key] of keys.entries()) {
    if (mine(key)) continue;
    const type = String(types[index]);
    const share = await shareOf(redis, key, type, names);
    if (share === 0) continue;
    const bytes = Number(await redis.call('memory', 'usage', key, 'samples', '0'));
    add(kindOf(key), bytes * share);
    sharedKeys += 1;
  }
  const total = Object.values(byKind).reduce((sum, bytes) => sum + bytes, 0);
  return { total, byKind, ownKeys, sharedKeys };
}

/** The fraction of a shared key's members that name one of `names` (0 when none or not a collection). */
async function shareOf(redis: Redis, key: string, type: string, names: readonly string[]): Promise<number> {
  switch (type) {
    case 'zset':
    case 'set':
    case 'hash': {
      const size = Number(
        await redis.call(type === 'zset' ? 'zcard' : type === 'set' ? 'scard' : 'hlen', key),
      );
      if (size === 0) return 0;
      const scan = type === 'zset' ? 'zscan' : type === 'set' ? 'sscan' : 'hscan';
      let matched = 0;
      for (const name of names) matched += await countMatches(redis, scan, key, `*${name}*`, type);
      return Math.min(1, matched / size);
    }
    case 'list': {
      const size = await redis.llen(key);
      if (size === 0) return 0;
      const items = await redis.lrange(key, 0, -1);
      return items.filter((item) => names.some((name) => item.includes(name))).length / size;
    }
    case 'stream': {
      const size = await redis.xlen(key);
      if (size === 0) return 0;
      let matched = 0;
      let start = '-';
      for (;;) {
        const entries = await redis.xrange(key, start, '+', 'COUNT', STREAM_PAGE);
        for (const [, fields] of entries)
          if (names.some((name) => fields.join(' ').includes(name))) matched += 1;
        if (entries.length < STREAM_PAGE) break;
        start = `(${entries.at(-1)![0]}`;
      }
      return matched / size;
    }
    default:
      return 0;
  }
}

// Members (zset, set) or fields (hash) matching `pattern`; ZSCAN and HSCAN answer pairs.
async function countMatches(
  redis: Redis,
  scan: 'zscan' | 'sscan' | 'hscan',
  key: string,
  pattern: string,
  type: string,
): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, items] = (await redis.call(scan, key, cursor, 'MATCH', pattern, 'COUNT', 10_000)) as [
      string,
      string[],
    ];
    cursor = next;
    count += type === 'set' ? items.length : items.length / 2;
  } while (cursor !== '0');
  return count;
}

/** A key's kind for the breakdown, read from its name (hangar's and BullMQ's conventions). */
export function kindOf(key: string): string {
  if (/:sandbox:/.test(key)) return 'record';
  if (/:idx:|:counts/.test(key)) return 'indexes';
  if (/:seq/.test(key)) return 'sequence';
  if (/:outcome:/.test(key)) return 'outcomes';
  if (/:reserv/.test(key)) return 'reservations';
  if (/events/.test(key)) return 'events';
  if (/:host-|:batch/.test(key)) return 'jobs';
  return 'other';
}

async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5_000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

async function pipelined(
  redis: Redis,
  keys: readonly string[],
  command: (key: string) => [string, ...string[]],
): Promise<unknown[]> {
  const results: unknown[] = [];
  for (let start = 0; start < keys.length; start += 5_000) {
    const pipeline = redis.pipeline();
    for (const key of keys.slice(start, start + 5_000)) {
      const [name, ...args] = command(key);
      pipeline.call(name, ...args);
    }
    const answers = (await pipeline.exec()) ?? [];
    results.push(...answers.map(([, value]) => value));
  }
  return results;
}
