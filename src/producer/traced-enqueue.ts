import type { Tracing } from '../tracing/start-tracing.ts';
import type { JobRef } from './job-handle.ts';

/**
 * Runs a client call's enqueue in the root span of its trace (`hangar.<op>`), when tracing
 * is on: BullMQ's add is its child and carries the trace into the job, so the worker's spans
 * join it. The span names the sandbox, and once enqueued the host and the job.
 */
export function tracedEnqueue<R extends JobRef | JobRef[]>(
  tracing: Tracing | undefined,
  op: string,
  sandboxId: string | undefined,
  enqueue: () => Promise<R>,
): Promise<R> {
  if (tracing === undefined) return enqueue();
  const attributes = {
    'hangar.op': op,
    ...(sandboxId === undefined ? {} : { 'hangar.sandbox_id': sandboxId }),
  };
  return tracing.span(`hangar.${op}`, attributes, async (span) => {
    const enqueued = await enqueue();
    if (!Array.isArray(enqueued)) {
      span.setAttributes({ 'hangar.host_id': enqueued.hostId, 'hangar.job_id': enqueued.jobId });
    }
    return enqueued;
  });
}
