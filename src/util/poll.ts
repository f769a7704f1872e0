import { setTimeout as sleep } from 'node:timers/promises';
import { TimeoutError } from '../errors/index.ts';

/**
 * Calls `probe` every `intervalMs` until it returns a value other than undefined, or
 * throws TimeoutError naming `what` after `timeoutMs`. Probes that throw are retried.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new TimeoutError(
        `timed out after ${options.timeoutMs} ms waiting for ${what}`,
        { what },
        lastError,
      );
    }
    await sleep(options.intervalMs ?? 20);
  }
}
