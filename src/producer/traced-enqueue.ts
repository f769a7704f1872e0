import type { SpanAttributes, Tracing } from '../tracing/start-tracing.ts';
import type { JobRef } from './job-handle.ts';

/**
 * Runs a client call in the root span of its trace (`hangar.<op>`), when tracing is on:
 * the BullMQ adds it makes are its children and carry the trace into their jobs, so the
 * workers' spans join it. `describe` names what the call made once it returned.
 */
export function tracedCall<R>(
  tracing: Tracing | undefined,
  op: string,
  attributes: SpanAttributes,
  call: () => Promise<R>,
  describe: (made: R) => SpanAttributes = () => ({}),
): Promise<R> {
  if (tracing === undefined) return call();
  return tracing.span(`hangar.${op}`, { 'hangar.op': op, ...attributes }, async (span) => {
    const made = await call();
    span.setAttributes(describe(made));
    return made;
  });
}

/** A call that enqueues one job (or several) on a sandbox: the span names the sandbox, its host and job. */
export function tracedEnqueue<R extends JobRef | JobRef[]>(
  tracing: Tracing | undefined,
  op: string,
  sandboxId: string | undefined,
  enqueue: () => Promise<R>,
): Promise<R> {
  return tracedCall(
    tracing,
    op,
    sandboxId === undefined ? {} : { 'hangar.sandbox_id': sandboxId },
    enqueue,
    (enqueued): SpanAttributes =>
      Array.isArray(enqueued) ? {} : { 'hangar.host_id': enqueued.hostId, 'hangar.job_id': enqueued.jobId },
  );
}
