import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { SupersededError, ValidationError } from '../errors/index.ts';
import { applyJobPolicy } from '../queues/job-options.ts';
import { RESULT_SCHEMAS } from '../queues/job-results.ts';
import { JobData, parseJobData } from '../queues/job-schemas.ts';
import { hostPrefix, hostQueueName } from '../queues/names.ts';
import { checkJobSignature, queueAddress } from '../signing/job-signature.ts';
import type { GateAnswer } from '../state/job-sequences.ts';
import type { JobOutcome } from '../state/record-schemas.ts';
import { BatchGate } from './batch-gate.ts';
import { errorInfo, isFinalError, toJobError } from './error-policy.ts';
import type { HostContext } from './host-context.ts';
import type { JobInfo } from './job-instruments.ts';
import { type FinishingJob, failedOutcome, finishJob, publishRetry } from './job-outcomes.ts';
import type { KeyedMutex } from './keyed-mutex.ts';
import { runOperation } from './operations/index.ts';
import { flushPendingRecord, setSandboxState } from './sandbox-records.ts';
import { settleAbandonedJob } from './settle-job.ts';
import { applyRetention } from './snapshot-retention.ts';
import { StepReporter } from './step-reporter.ts';

/**
 * How soon a job held back by its predecessor is looked at again. It is a backstop only:
 * a job that finishes wakes its successor at once.
 */
const ORDERING_RECHECK_MS = 500;

/**
 * The BullMQ processor of a host queue: validates the job (its name must be its payload's
 * op; with a job key, its signature must be good; attempts and backoff are the worker's
 * own), keeps each sandbox's jobs in enqueue order and one at a time, runs the operation,
 * and records and publishes the outcome.
 */
export function createJobProcessor(ctx: HostContext, mutex: KeyedMutex, batches = new BatchGate()) {
  const queue = queueAddress(hostPrefix(ctx.store.keys.keyPrefix, ctx.hostId), hostQueueName(ctx.hostId));
  return async (job: Job, token?: string): Promise<Record<string, unknown>> => {
    let data: JobData;
    try {
      data = parseJobData(job.data);
      if (job.name !== data.payload.op) {
        throw new ValidationError(
          `invalid job: name '${job.name}' is not its payload's op '${data.payload.op}'`,
          {
            field: 'name',
          },
        );
      }
      // The raw data, as read back from Redis: what was signed, before any default is filled in.
      if (ctx.jobKey !== undefined)
        checkJobSignature(ctx.jobKey, { queue, jobId: job.id!, name: job.name }, job.data);
    } catch (error) {
      // An untrusted job changes nothing: no sequence, no record; only its own outcome.
      await rejectInvalid(ctx, job, error);
      throw toJobError(error);
    }
    const { attempts } = applyJobPolicy(job.opts);
    const { payload, seq } = data;
    const sandboxId = payload.sandboxId;
    const finishing: FinishingJob = {
      jobId: job.id!,
      op: payload.op,
      sandboxId,
      seq,
      attempt: job.attemptsMade + 1,
      starts: job.attemptsStarted,
      ...(data.replyTo === undefined ? {} : { replyTo: data.replyTo }),
    };
    const log = ctx.log.child({ jobId: job.id, sandboxId, hostId: ctx.hostId, op: payload.op, seq });

    // The common case, a job right after the last one this worker finished, needs no GATE.
    const gate: GateAnswer = ctx.watermarks.mayRun(sandboxId, seq)
      ? { kind: 'run' }
      : await ctx.store.sequences.gate(ctx.hostId, sandboxId, seq);
    if (gate.kind === 'finished') return answerFinished(ctx, finishing);
    if (gate.kind === 'orphan') {
      await settleAbandonedJob(
        ctx,
        mutex,
        { jobId: gate.predecessor, sandboxId, seq: gate.predecessorSeq },
        log,
      );
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    if (gate.kind === 'wait') {
      await job.moveToDelayed(Date.now() + ORDERING_RECHECK_MS, token);
      throw new DelayedError();
    }

    const isFinalAttempt = job.attemptsMade + 1 >= attempts;
    const info: JobInfo = {
      job,
      jobId: job.id!,
      op: payload.op,
      sandboxId,
      hostId: ctx.hostId,
      attempt: finishing.attempt,
      isFinalAttempt,
    };
    return mutex.run(sandboxId, () =>
      ctx.instrument.job(info, async () => {
        log.info({ attempt: finishing.attempt, attempts }, 'job started');
        const progress = new StepReporter(
          job,
          `attempt ${finishing.attempt}/${attempts} of ${payload.op} on host ${ctx.hostId}`,
          log,
        );
        try {
          const operation = () =>
            runOperation(ctx, payload, {
              log,
              jobId: job.id!,
              isFinalAttempt,
              progress: (step, index, total) => progress.starting(step, index, total),
              instrument: { step: ctx.instrument.step, job: info },
            }).finally(() => progress.stop());
          const batchId = payload.op === 'snapshot' ? payload.batchId : undefined;
          const startedAt = new Date().toISOString();
          const reported =
            batchId === undefined ? await operation() : await batches.run(ctx, batchId, operation);
          // Checked against the operation's result schema: what the client's typed result() reads.
          const result: Record<string, unknown> = RESULT_SCHEMAS[payload.op].parse({
            ...reported,
            hostId: ctx.hostId,
            startedAt,
            finishedAt: new Date().toISOString(),
          });
          await finishJob(ctx, finishing, { status: 'completed', result, at: new Date().toISOString() });
          if (batchId !== undefined) await batches.count(ctx, batchId, job.id!, true);
          // A snapshot of a series may push an older one past its retention.
          if (payload.op === 'snapshot' && payload.series !== undefined) {
            applyRetention(ctx).catch((error: unknown) =>
              log.warn({ err: error }, 'snapshot retention failed'),
            );
          }
          log.info({ outcome: result.outcome }, 'job completed');
          return result;
        } catch (error) {
          const final = isFinalAttempt || isFinalError(error);
          log.error({ err: error, final }, 'job failed');
          await job.log(
            `attempt ${finishing.attempt}/${attempts} on host ${ctx.hostId} failed${final ? ' (final)' : ', will retry'}: ${errorInfo(error).message}`,
          );
          if (!final) {
            await flushPendingRecord(ctx, sandboxId);
            await publishRetry(ctx, finishing, errorInfo(error));
            throw toJobError(error);
          }
          await markFailedIfNew(ctx, sandboxId, error);
          await finishJob(ctx, finishing, failedOutcome(errorInfo(error)));
          if (payload.op === 'snapshot' && payload.batchId !== undefined) {
            await batches.count(ctx, payload.batchId, job.id!, false);
          }
          throw toJobError(error);
        }
      }),
    );
  };
}

// A job whose place has passed: a redelivery of a finished job answers with its outcome
// (published again, in case the first publish was lost); one that never ran is superseded.
async function answerFinished(ctx: HostContext, job: FinishingJob): Promise<Record<string, unknown>> {
  const recorded: JobOutcome | undefined = await ctx.store.getOutcome(ctx.hostId, job.jobId);
  const outcome =
    recorded ??
    failedOutcome(
      new SupersededError(
        `job ${job.jobId} (#${job.seq} of sandbox ${job.sandboxId}) never ran and its place in the sandbox's order has passed`,
      ).toJSON(),
    );
  await finishJob(ctx, job, outcome);
  if (outcome.status === 'completed') return { ...outcome.result, outcome: 'already' };
  throw new UnrecoverableError(`${outcome.error.code}: ${outcome.error.message}`);
}

async function rejectInvalid(ctx: HostContext, job: Job, error: unknown): Promise<void> {
  const info = errorInfo(error);
  ctx.log.warn({ jobId: job.id, name: job.name, code: info.code, reason: info.message }, 'job refused');
  // Only where the job has no outcome yet: a refused job may have reused the id of a real
  // one (Bull Board's add takes any id once BullMQ dropped the completed job).
  if (!(await ctx.store.putOutcome(ctx.hostId, job.id!, failedOutcome(info), { ifNone: true }))) return;
  // The enqueuing client, when the data names one, hears it at once instead of at its next re-read.
  const replyTo = replyToOf(job.data);
  await ctx.events.publish(
    {
      type: 'job.failed',
      at: new Date().toISOString(),
      hostId: ctx.hostId,
      jobId: job.id!,
      op: job.name,
      error: info,
      willRetry: false,
      attempt: job.attemptsMade + 1,
    },
    replyTo === undefined ? [] : [ctx.store.keys.fleet.replyChannel(replyTo)],
  );
}

function replyToOf(data: unknown): string | undefined {
  const parsed = JobData.shape.replyTo.safeParse((data as { replyTo?: unknown } | null)?.replyTo);
  return parsed.success ? parsed.data : undefined;
}

// A create or restore that failed for good leaves a `failed` record (its resources rolled back);
// other operations keep the sandbox's state as it is.
async function markFailedIfNew(ctx: HostContext, sandboxId: string, error: unknown): Promise<void> {
  const entry = ctx.ledger.get(sandboxId);
  if (entry === undefined || (entry.state !== 'creating' && entry.state !== 'restoring')) return;
  await setSandboxState(ctx, entry, 'failed', { lastError: errorInfo(error) });
  await ctx.ledger.remove(entry.sandboxId);
}
