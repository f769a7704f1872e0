import { setTimeout as delay } from 'node:timers/promises';

/** Waits `ms`, or less when `signal` aborts (it never throws: callers check the signal). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  await delay(Math.max(0, ms), undefined, signal === undefined ? {} : { signal }).catch(() => undefined);
}
