// Redis's own counters, read around a block of operations: `INFO commandstats` (calls per
// command, server-wide) and `INFO memory`. The bench's own probes (INFO) are left out.
import type { Redis } from 'ioredis';

/** Calls per command name (`get`, `evalsha`, `client|setname`). */
export type CommandCounts = Map<string, number>;

/** Commands the bench itself sends to read counters: never counted as the operation's. */
const PROBES = new Set(['info']);

/** The server's calls per command right now. */
export async function commandCounts(redis: Redis): Promise<CommandCounts> {
  const text = await redis.info('commandstats');
  const counts: CommandCounts = new Map();
  for (const line of text.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match && !PROBES.has(match[1]!)) counts.set(match[1]!, Number(match[2]));
  }
  return counts;
}

/** What happened between two readings (commands never seen before count from 0). */
export function countsDelta(after: CommandCounts, before: CommandCounts): CommandCounts {
  const delta: CommandCounts = new Map();
  for (const [name, calls] of after) {
    const diff = calls - (before.get(name) ?? 0);
    if (diff > 0) delta.set(name, diff);
  }
  return delta;
}

/** Adds `b` into `a`, scaled by `factor` (use -1 to subtract); drops what falls to 0 or below. */
export function addCounts(a: CommandCounts, b: CommandCounts, factor = 1): CommandCounts {
  const sum: CommandCounts = new Map(a);
  for (const [name, calls] of b) sum.set(name, (sum.get(name) ?? 0) + calls * factor);
  for (const [name, calls] of sum) if (calls <= 1e-9) sum.delete(name);
  return sum;
}

/** Every count divided by `n`. */
export function perOperation(counts: CommandCounts, n: number): CommandCounts {
  return new Map([...counts].map(([name, calls]) => [name, calls / n]));
}

/** The sum of all counts. */
export function totalOf(counts: CommandCounts): number {
  return [...counts.values()].reduce((sum, calls) => sum + calls, 0);
}

/** `total (top: a 3.0, b 2.0, c 1.0)` with the largest `top` commands. */
export function describeCounts(counts: CommandCounts, top = 4): string {
  const sorted = [...counts].sort((a, b) => b[1] - a[1]).slice(0, top);
  const list = sorted.map(([name, calls]) => `${name} ${fmt(calls)}`).join(', ');
  return `${fmt(totalOf(counts))}${list === '' ? '' : ` (${list})`}`;
}

function fmt(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/**
 * Counts the commands a block issues: the block runs between two readings, and the idle
 * background (`idlePerSecond`: the worker's heartbeat, lost-host check and BullMQ's idle
 * polling, measured beforehand) expected over the block's wall time is taken off.
 */
export async function countBlock(
  redis: Redis,
  idlePerSecond: CommandCounts,
  block: () => Promise<void>,
  settleMs = 200,
): Promise<CommandCounts> {
  const before = await commandCounts(redis);
  const started = performance.now();
  await block();
  // Lets the tail of the last job (BullMQ moving it to completed, fetching the next) land.
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const seconds = (performance.now() - started) / 1000;
  const after = await commandCounts(redis);
  return addCounts(countsDelta(after, before), idlePerSecond, -seconds);
}

/** Redis's used_memory in bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const match = /used_memory:(\d+)/.exec(await redis.info('memory'));
  return Number(match?.[1] ?? Number.NaN);
}
