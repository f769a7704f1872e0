import { DelayedError, type Job } from 'bullmq';
import { ValidationError } from '../errors/index.ts';
import type { JobData } from '../queues/job-schemas.ts';
import { parseJobData } from '../queues/job-schemas.ts';
import { BatchGate } from './batch-gate.ts';
import { errorInfo, isFinalError, toJobError } from './error-policy.ts';
import type { HostContext } from './host-context.ts';
import type { KeyedMutex } from './keyed-mutex.ts';
import { runOperation } from './operations/index.ts';
import type { OperationResult } from './operations/operation.ts';
import { setSandboxState } from './sandbox-records.ts';

/** How long a job waits for an earlier job of its sandbox that never shows up before going ahead. */
const ORDERING_PATIENCE_MS = 60_000;
/** How soon a job that must wait for its predecessor is looked at again. */
const ORDERING_RECHECK_MS = 50;

/**
 * The BullMQ processor of a host queue: validates the job, keeps each sandbox's jobs in
 * enqueue order and one at a time, runs the operation, and records and publishes the outcome.
 */
export function createJobProcessor(ctx: HostContext, mutex: KeyedMutex, batches = new BatchGate()) {
  return async (job: Job, token?: string): Promise<OperationResult> => {
    let data: JobData;
    try {
      data = parseJobData(job.data);
    } catch (error) {
      await recordFailure(ctx, job, undefined, error, true);
      throw toJobError(error);
    }
    const { payload, seq } = data;
    const sandboxId = payload.sandboxId;
    const log = ctx.log.child({ jobId: job.id, sandboxId, hostId: ctx.hostId, op: payload.op, seq });

    const finished = await ctx.store.finishedSequence(sandboxId);
    if (seq <= finished) {
      // At-least-once delivery: a duplicate of a job that already finished returns its outcome.
      const outcome = await ctx.store.getOutcome(job.id!);
      if (outcome?.status === 'completed') return { ...outcome.result, outcome: 'already' };
    } else if (seq > finished + 1 && Date.now() - job.timestamp < ORDERING_PATIENCE_MS) {
      await job.moveToDelayed(Date.now() + ORDERING_RECHECK_MS, token);
      throw new DelayedError();
    }

    return mutex.run(sandboxId, async () => {
      const attempts = job.opts.attempts ?? 1;
      const isFinalAttempt = job.attemptsMade + 1 >= attempts;
      log.info({ attempt: job.attemptsMade + 1, attempts }, 'job started');
      await job.log(`attempt ${job.attemptsMade + 1}/${attempts} of ${payload.op} on host ${ctx.hostId}`);
      try {
        const operation = () =>
          runOperation(ctx, payload, {
            log,
            isFinalAttempt,
            progress: async (step, index, total) => {
              await job.updateProgress({ step, percent: Math.round((index / total) * 100) });
              await job.log(`step ${index + 1}/${total}: ${step}`);
            },
          });
        const batchId = payload.op === 'snapshot' ? payload.batchId : undefined;
        const startedAt = new Date().toISOString();
        const result = {
          ...(batchId === undefined ? await operation() : await batches.run(ctx, batchId, operation)),
          startedAt,
          finishedAt: new Date().toISOString(),
        };
        if (batchId !== undefined) await batches.count(ctx, batchId, true);
        await ctx.store.putOutcome(job.id!, { status: 'completed', result, at: new Date().toISOString() });
        await ctx.store.markSequenceFinished(sandboxId, seq);
        await ctx.events.publish({
          type: 'job.completed',
          at: new Date().toISOString(),
          hostId: ctx.hostId,
          jobId: job.id!,
          op: payload.op,
          sandboxId,
          result,
        });
        log.info({ outcome: result.outcome }, 'job completed');
        await job.log(`completed: ${result.outcome}`);
        return result;
      } catch (error) {
        const final = isFinalAttempt || isFinalError(error);
        log.error({ err: error, final }, 'job failed');
        await job.log(`failed${final ? ' (final)' : ', will retry'}: ${errorInfo(error).message}`);
        await recordFailure(ctx, job, data, error, final);
        if (final && payload.op === 'snapshot' && payload.batchId !== undefined) {
          await batches.count(ctx, payload.batchId, false);
        }
        throw toJobError(error);
      }
    });
  };
}

async function recordFailure(
  ctx: HostContext,
  job: Job,
  data: JobData | undefined,
  error: unknown,
  final: boolean,
): Promise<void> {
  const info = errorInfo(error);
  if (final)
    await ctx.store.putOutcome(job.id!, { status: 'failed', error: info, at: new Date().toISOString() });
  if (data === undefined) {
    await ctx.events.publish({
      type: 'job.failed',
      at: new Date().toISOString(),
      hostId: ctx.hostId,
      jobId: job.id!,
      op: job.name,
      error: info,
      willRetry: false,
      attempt: job.attemptsMade + 1,
    });
    return;
  }
  const sandboxId = data.payload.sandboxId;
  if (final) {
    await ctx.store.markSequenceFinished(sandboxId, data.seq);
    await markFailedIfNew(ctx, data, error);
  }
  await ctx.events.publish({
    type: 'job.failed',
    at: new Date().toISOString(),
    hostId: ctx.hostId,
    jobId: job.id!,
    op: data.payload.op,
    sandboxId,
    error: info,
    willRetry: !final,
    attempt: job.attemptsMade + 1,
  });
}

// A create or restore that failed for good leaves a `failed` record (its resources rolled back);
// other operations keep the sandbox's state as it is.
async function markFailedIfNew(ctx: HostContext, data: JobData, error: unknown): Promise<void> {
  if (error instanceof ValidationError) return;
  const entry = ctx.ledger.get(data.payload.sandboxId);
  if (entry === undefined || (entry.state !== 'creating' && entry.state !== 'restoring')) return;
  await setSandboxState(ctx, entry, 'failed', { lastError: errorInfo(error) });
  await ctx.ledger.remove(entry.sandboxId);
}
