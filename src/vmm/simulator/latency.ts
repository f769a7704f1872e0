import { setTimeout as sleep } from 'node:timers/promises';

const GIB = 1024 ** 3;

/** Names of the simulated delays, in ms; `snapshot_per_gib` is added per GiB of guest memory. */
export const LATENCY_KEYS = [
  'create',
  'boot',
  'pause',
  'resume',
  'snapshot',
  'snapshot_per_gib',
  'restore',
  'restore_per_gib',
  'shutdown',
] as const;

/** One simulated delay name. */
export type LatencyKey = (typeof LATENCY_KEYS)[number];

/** How long the simulator takes for each slow call; all 0 unless set. */
export type Latency = Record<LatencyKey, number>;

/** No delays. */
export function zeroLatency(): Latency {
  return Object.fromEntries(LATENCY_KEYS.map((key) => [key, 0])) as Latency;
}

/** Parses `boot=300,snapshot_per_gib=4000` (comma or semicolon separated) over `base`. */
export function parseLatency(text: string, base: Latency = zeroLatency()): Latency {
  const latency = { ...base };
  for (const item of text
    .split(/[,;]/)
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [key, value] = item.split('=', 2);
    if (!(LATENCY_KEYS as readonly string[]).includes(key ?? '')) {
      throw new Error(`unknown latency "${key}" (known: ${LATENCY_KEYS.join(', ')})`);
    }
    const ms = Number(value);
    if (!Number.isInteger(ms) || ms < 0)
      throw new Error(`latency ${key} must be a whole number of ms, got "${value}"`);
    latency[key as LatencyKey] = ms;
  }
  return latency;
}

/** The delay of an endpoint for a VM with `memoryBytes` of RAM. */
export function delayFor(latency: Latency, endpoint: string, memoryBytes: number): number {
  const gib = memoryBytes / GIB;
  switch (endpoint) {
    case 'vm.create':
      return latency.create;
    case 'vm.boot':
      return latency.boot;
    case 'vm.pause':
      return latency.pause;
    case 'vm.resume':
      return latency.resume;
    case 'vm.snapshot':
      return Math.round(latency.snapshot + latency.snapshot_per_gib * gib);
    case 'vm.restore':
      return Math.round(latency.restore + latency.restore_per_gib * gib);
    case 'vm.shutdown':
      return latency.shutdown;
    default:
      return 0;
  }
}

/** Waits the delay of an endpoint (no timer at all for 0). */
export async function simulateLatency(
  latency: Latency,
  endpoint: string,
  memoryBytes: number,
): Promise<void> {
  const ms = delayFor(latency, endpoint, memoryBytes);
  if (ms > 0) await sleep(ms);
}
