import type { ErrorInfo } from '../events/event-schemas.ts';
import type { Operation } from '../queues/job-schemas.ts';
import { OUTCOME_TTL_SECONDS } from '../state/fleet-store.ts';
import type { JobOutcome } from '../state/record-schemas.ts';
import type { HostContext } from './host-context.ts';

/** One job as its end is recorded. */
export interface FinishingJob {
  jobId: string;
  op: Operation;
  sandboxId: string;
  seq: number;
  attempt: number;
  /** The client that enqueued the job (its reply channel hears the outcome). */
  replyTo?: string;
  /** How many times a worker has started the job, this time included (BullMQ's attemptsStarted). */
  starts?: number;
}

/**
 * Records a job's end in one step (outcome, its number finished, the event, the reservation
 * released where the sandbox gave its room back) and wakes the sandbox's next job. Safe to
 * repeat: a redelivered job that finished before publishes its outcome again.
 */
export async function finishJob(ctx: HostContext, job: FinishingJob, outcome: JobOutcome): Promise<void> {
  const at = outcome.at;
  const event =
    outcome.status === 'completed'
      ? {
          type: 'job.completed' as const,
          at,
          hostId: ctx.hostId,
          jobId: job.jobId,
          op: job.op,
          sandboxId: job.sandboxId,
          result: outcome.result,
        }
      : {
          type: 'job.failed' as const,
          at,
          hostId: ctx.hostId,
          jobId: job.jobId,
          op: job.op,
          sandboxId: job.sandboxId,
          error: outcome.error,
          willRetry: false,
          attempt: job.attempt,
        };
  const builds = job.op === 'create' || job.op === 'restore';
  // A job on a sandbox that is gone (a snapshot's deletion) lets its sequence keys expire again.
  const gone = job.op === 'delete-snapshot' && ctx.ledger.get(job.sandboxId) === undefined;
  const release = (outcome.status === 'completed' ? job.op === 'destroy' : builds) || gone;
  const record = ctx.pendingRecords.take(job.sandboxId);
  const { next, watermark } = await ctx.store.sequences.finish({
    hostId: ctx.hostId,
    jobId: job.jobId,
    sandboxId: job.sandboxId,
    seq: job.seq,
    outcome:
      outcome.starts === undefined && job.starts !== undefined ? { ...outcome, starts: job.starts } : outcome,
    event,
    release,
    outcomeTtlSeconds: OUTCOME_TTL_SECONDS,
    retentionSeconds: ctx.retentionSeconds,
    ...(job.replyTo === undefined ? {} : { replyTo: job.replyTo }),
    ...(record === undefined ? {} : { record }),
  });
  ctx.outbox.kick();
  ctx.watermarks.learn(job.sandboxId, watermark);
  if (release) {
    ctx.watermarks.forget(job.sandboxId);
    ctx.capacityFreed();
    await ctx.store.directory.expire(job.sandboxId, ctx.retentionSeconds);
  }
  if (next !== undefined) await ctx.wake(next);
}

/** A failed outcome now. */
export function failedOutcome(error: ErrorInfo): JobOutcome {
  return { status: 'failed', error, at: new Date().toISOString() };
}

/** Publishes a failed attempt that will be retried (no outcome yet). */
export async function publishRetry(ctx: HostContext, job: FinishingJob, error: ErrorInfo): Promise<void> {
  await ctx.events.publish({
    type: 'job.failed',
    at: new Date().toISOString(),
    hostId: ctx.hostId,
    jobId: job.jobId,
    op: job.op,
    sandboxId: job.sandboxId,
    error,
    willRetry: true,
    attempt: job.attempt,
  });
}
