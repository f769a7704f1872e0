import { ErrorCode, HangarError } from '../../src/errors/index.ts';
import { sleep } from './sleep.ts';

// What ioredis and BullMQ say when the server is gone or still loading its AOF.
const REDIS_DOWN =
  /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|max retries per request|MaxRetriesPerRequest|LOADING|Socket closed unexpectedly|connect ETIMEDOUT|Command timed out/i;
// Codes under which the client wrote nothing (no live host, no room right now): safe to send again.
const NOTHING_WRITTEN = new Set<string>([ErrorCode.HostLost, ErrorCode.Capacity]);
const RETRY_PAUSE_MS = 250;

/** Whether an error (or one of its causes) says Redis could not be reached. */
export function isRedisDown(error: unknown): boolean {
  for (let cause = error, depth = 0; cause !== undefined && depth < 5; depth++) {
    if (cause instanceof Error) {
      if (REDIS_DOWN.test(`${cause.name} ${cause.message}`)) return true;
      cause = cause.cause;
    } else {
      return REDIS_DOWN.test(String(cause));
    }
  }
  return false;
}

/** Why a call did not give a job: refused with a code (no such sandbox, wrong state) or an error. */
export type CallFailure =
  | { kind: 'refused'; code: string; message: string }
  | { kind: 'error'; message: string }
  | { kind: 'gave-up'; message: string };

/** What a call did, with the retries it took. */
export type CallOutcome<T> =
  | { ok: true; value: T; redisRetries: number; hostRetries: number }
  | { ok: false; failure: CallFailure; redisRetries: number; hostRetries: number };

/**
 * Makes a client call, sending it again while Redis is down (only when it carries an
 * idempotency key, so the repeat maps to the job the first one may have added) or while the
 * client finds no live host (it wrote nothing then). Gives up after `deadlineMs`.
 */
export async function callWithRetry<T>(
  call: () => Promise<T>,
  options: { keyed: boolean; deadlineMs: number; signal?: AbortSignal },
): Promise<CallOutcome<T>> {
  const deadline = Date.now() + options.deadlineMs;
  let redisRetries = 0;
  let hostRetries = 0;
  for (;;) {
    try {
      return { ok: true, value: await call(), redisRetries, hostRetries };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const redisDown = isRedisDown(error);
      const hostMissing = error instanceof HangarError && NOTHING_WRITTEN.has(error.code);
      const retry = (redisDown && options.keyed) || hostMissing;
      if (!retry) {
        const failure: CallFailure =
          error instanceof HangarError && !redisDown
            ? { kind: 'refused', code: error.code, message }
            : { kind: 'error', message: redisDown ? `redis down, call not keyed: ${message}` : message };
        return { ok: false, failure, redisRetries, hostRetries };
      }
      if (Date.now() > deadline || options.signal?.aborted) {
        return { ok: false, failure: { kind: 'gave-up', message }, redisRetries, hostRetries };
      }
      if (redisDown) redisRetries++;
      else hostRetries++;
      await sleep(RETRY_PAUSE_MS);
    }
  }
}
