import { StalledError } from '../errors/index.ts';
import type { Logger } from '../logging/logger.ts';
import type { Operation } from '../queues/job-schemas.ts';
import { JobData, JobPayload } from '../queues/job-schemas.ts';
import type { HostContext } from './host-context.ts';
import { failedOutcome, finishJob } from './job-outcomes.ts';
import type { KeyedMutex } from './keyed-mutex.ts';
import { TRANSITIONAL } from './sandbox-records.ts';
import { settleEntry } from './settle.ts';

/** A job BullMQ ended without our processor recording its end, with its place in the order. */
export interface AbandonedJob {
  jobId: string;
  sandboxId: string;
  seq: number;
}

/**
 * The final-failure path for a job that never reached it: BullMQ failed it for stalling
 * (its worker kept dying), so no rollback ran, no outcome was written and its number was
 * never finished. Under the sandbox's lock: roll back or finish what it left in the ledger,
 * then record its outcome, finish its number and publish, as any final failure does. A job
 * whose outcome exists is only published again.
 */
export async function settleAbandonedJob(
  ctx: HostContext,
  mutex: KeyedMutex,
  abandoned: AbandonedJob,
  log: Logger,
): Promise<void> {
  const job = await ctx.jobById(abandoned.jobId);
  const parsed = JobData.safeParse(job?.data);
  const op: Operation = parsed.success ? parsed.data.payload.op : opOf(abandoned.jobId);
  await mutex.run(abandoned.sandboxId, async () => {
    const recorded = await ctx.store.getOutcome(ctx.hostId, abandoned.jobId);
    const entry = ctx.ledger.get(abandoned.sandboxId);
    if (recorded === undefined && entry?.jobId === abandoned.jobId && TRANSITIONAL.has(entry.state)) {
      const settled = await settleEntry(ctx, entry, log);
      log.warn(
        { jobId: abandoned.jobId, state: entry.state, settled },
        'settled the work of an abandoned job',
      );
    }
    const outcome =
      recorded ??
      failedOutcome(
        new StalledError(
          `job ${abandoned.jobId} was abandoned (${job?.failedReason ?? 'it no longer exists'}); its work was rolled back`,
        ).toJSON(),
      );
    await finishJob(
      ctx,
      {
        jobId: abandoned.jobId,
        op,
        sandboxId: abandoned.sandboxId,
        seq: abandoned.seq,
        attempt: (job?.attemptsMade ?? 0) + 1,
        ...(parsed.success && parsed.data.replyTo !== undefined ? { replyTo: parsed.data.replyTo } : {}),
      },
      outcome,
    );
  });
}

/** Job ids are `<op>-<sandboxId>-<seq>-<suffix>`; the op is their first part. */
function opOf(jobId: string): Operation {
  const op = jobId.slice(0, jobId.indexOf('-'));
  return JobPayload.options.map((option) => option.shape.op.value).find((known) => known === op) ?? 'pause';
}
