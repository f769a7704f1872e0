// Small order statistics for latency samples; enough for median/p99 tables, no dependency.

/** Summary of one set of latency samples, in milliseconds. */
export interface Summary {
  n: number;
  median: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** The q-quantile (0..1) by linear interpolation between closest ranks (R type 7, numpy's default). */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const low = Math.floor(position);
  const high = Math.ceil(position);
  const lowValue = sorted[low] ?? Number.NaN;
  const highValue = sorted[high] ?? lowValue;
  return lowValue + (highValue - lowValue) * (position - low);
}

/** The middle value (mean of the two middle ones for an even count). */
export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

/** The 99th percentile. */
export function p99(samples: readonly number[]): number {
  return quantile(samples, 0.99);
}

/** The arithmetic mean. */
export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  return samples.reduce((sum, value) => sum + value, 0) / samples.length;
}

/** Median, p99, mean, min and max of `samples`. */
export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    median: median(samples),
    p99: p99(samples),
    mean: mean(samples),
    min: samples.length === 0 ? Number.NaN : Math.min(...samples),
    max: samples.length === 0 ? Number.NaN : Math.max(...samples),
  };
}

/** Milliseconds taken by `fn`, measured with the monotonic high-resolution clock. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}
