/** What `unlessAborted` gives when the signal won. */
export const ABORTED: unique symbol = Symbol('aborted');

/**
 * `promise`, or ABORTED as soon as `signal` aborts, whichever comes first. A command queued on
 * an ioredis connection that is waiting to reconnect is never rejected by `disconnect()`, so a
 * reader that must stop on abort cannot wait for its command to fail. A later rejection of the
 * abandoned promise is swallowed.
 */
export function unlessAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T | typeof ABORTED> {
  if (signal === undefined) return promise;
  promise.catch(() => undefined);
  if (signal.aborted) return Promise.resolve(ABORTED);
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}
