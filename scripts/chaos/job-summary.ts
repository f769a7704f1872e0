import { ErrorCode, isPermanent } from '../../src/errors/index.ts';
import { FLEET_HOME, KeySpace } from '../../src/queues/names.ts';
import type { JobTracker, TrackedJob } from './job-tracker.ts';
import type { QueueProbe } from './queue-probe.ts';
import type { KillRecord } from './recovery.ts';
import type { BatchChild } from './workload.ts';

/** A job whose answer never came, with where BullMQ and our records left it. */
export interface LostJob {
  jobId: string;
  op: string;
  sandboxId: string;
  lostHow: string;
  /** Ms from the phase's start to the job's issue. */
  issuedAtMs: number;
  /** Kills that landed while it was in flight. */
  killsInFlight: number;
  keyed: boolean;
  /** Sends of its call repeated after Redis was down (the repeat got this job back). */
  redisRetries: number;
  bull: { queue?: string; state: string; failedReason?: string };
  /** Whether an outcome record exists (then the answer was written but never delivered). */
  outcomeRecorded: boolean;
  finalDestroy: boolean;
}

/** Jobs by how they ended. */
export interface JobSummary {
  issued: number;
  completed: number;
  failed: Record<string, number>;
  /** Failures whose code is not a named permanent one (a retry could have helped, or no code). */
  failedNotPermanent: Record<string, number>;
  lost: number;
  lostJobs: LostJob[];
  /** Jobs counted lost by the quiescence rule that were answered after all (should be 0). */
  answeredAfterLost: number;
  /** Jobs whose enqueue was sent again after Redis was down (mapped to them by the key). */
  sentAgainAfterRedisDown: number;
  /** result() calls made again after Redis was down. */
  resultRetries: number;
  byOp: Record<string, { issued: number; completed: number; failed: number; lost: number }>;
  /** The batches' snapshot children, from the batches' results. */
  batchChildren: { completed: number; failed: Record<string, number> };
}

/** Whether a failure code is named and permanent (the answer a retry could not change). */
export function isNamedPermanent(code: string): boolean {
  return (Object.values(ErrorCode) as string[]).includes(code) && isPermanent(code as ErrorCode);
}

/** Counts the tracker's jobs by fate and code, and finds out where each lost job was left. */
export async function summarizeJobs(
  tracker: JobTracker,
  batchChildren: readonly BatchChild[],
  context: { probe: QueueProbe; keyPrefix: string; kills: readonly KillRecord[]; startedAt: number },
): Promise<JobSummary> {
  const jobs = tracker.jobs();
  const summary: JobSummary = {
    issued: jobs.length,
    completed: 0,
    failed: {},
    failedNotPermanent: {},
    lost: 0,
    lostJobs: [],
    answeredAfterLost: 0,
    sentAgainAfterRedisDown: jobs.filter((job) => job.redisRetries > 0).length,
    resultRetries: jobs.reduce((sum, job) => sum + job.resultRetries, 0),
    byOp: {},
    batchChildren: { completed: 0, failed: {} },
  };
  for (const job of jobs) {
    const op = summary.byOp[job.op] ?? { issued: 0, completed: 0, failed: 0, lost: 0 };
    summary.byOp[job.op] = op;
    op.issued += 1;
    if (job.message?.includes('answered after it was counted lost')) summary.answeredAfterLost += 1;
    if (job.fate === 'completed') {
      summary.completed += 1;
      op.completed += 1;
    } else if (job.fate === 'failed') {
      const code = job.code ?? 'none';
      op.failed += 1;
      bump(summary.failed, code);
      if (!isNamedPermanent(code))
        bump(summary.failedNotPermanent, `${code}: ${job.message ?? ''}`.slice(0, 160));
    } else {
      summary.lost += 1;
      op.lost += 1;
      summary.lostJobs.push(await describeLost(job, context));
    }
  }
  for (const child of batchChildren) {
    if (child.failed === undefined) summary.batchChildren.completed += 1;
    else
      bump(
        summary.batchChildren.failed,
        /^(E_[A-Z_]+)\b/.exec(child.failed)?.[1] ?? `unnamed: ${child.failed}`.slice(0, 120),
      );
  }
  return summary;
}

async function describeLost(
  job: TrackedJob,
  context: { probe: QueueProbe; keyPrefix: string; kills: readonly KillRecord[]; startedAt: number },
): Promise<LostJob> {
  const keys = new KeySpace(context.keyPrefix);
  const bull = await context.probe
    .whereIs(job.jobId)
    .catch((error: unknown) => ({ state: `unreadable: ${String(error)}` }));
  const home = job.op === 'snapshot-batch' ? FLEET_HOME : context.probe.hostId;
  const outcomeRecorded =
    (await context.probe.redis.exists(keys.outcome(home, job.jobId)).catch(() => 0)) === 1;
  return {
    jobId: job.jobId,
    op: job.op,
    sandboxId: job.sandboxId,
    lostHow: job.lostHow ?? 'unknown',
    issuedAtMs: job.issuedAt - context.startedAt,
    killsInFlight: context.kills.filter((kill) => kill.at > job.issuedAt).length,
    keyed: job.keyed,
    redisRetries: job.redisRetries,
    bull,
    outcomeRecorded,
    finalDestroy: job.teardown,
  };
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
