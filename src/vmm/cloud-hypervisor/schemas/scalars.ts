import { z } from 'zod';

/** The spec's `int64` (sizes in bytes): a safe JS integer, never negative where we use it. */
export const Int64 = z.int().min(0);

/** The spec's `int16` (pci_segment). */
export const Int16 = z.int().min(0).max(32_767);

/** The spec's `uint8` (pci_device_id). */
export const Uint8 = z.int().min(0).max(255);

/** How a serial port or console is wired (spec ConsoleMode). */
export const ConsoleMode = z.enum(['Off', 'Pty', 'Tty', 'File', 'Socket', 'Null']);
export type ConsoleMode = z.infer<typeof ConsoleMode>;

/** A token bucket of a rate limiter; kept loose: we never set limits, only carry them through. */
export const TokenBucket = z.looseObject({
  size: Int64,
  one_time_burst: Int64.optional(),
  refill_time: Int64,
});

/** An I/O rate limiter (spec RateLimiterConfig), carried through unchanged. */
export const RateLimiterConfig = z.looseObject({
  bandwidth: TokenBucket.optional(),
  ops: TokenBucket.optional(),
});
export type RateLimiterConfig = z.infer<typeof RateLimiterConfig>;

/**
 * Removes `null` members from objects, recursively. CH serialises Rust's `None` as `null`
 * (vm.info, config.json) while the spec (and our schemas) model absent fields as missing.
 */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (member !== null) out[key] = dropNulls(member);
  }
  return out;
}
