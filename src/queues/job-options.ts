import type { JobsOptions, WorkerOptions } from 'bullmq';

/**
 * Job options that suit VM work: retries with exponential backoff and jitter (a host step
 * that failed once, a busy device, usually succeeds a moment later). A completed job is
 * removed at once: its outcome lives on in our own records (for the outcome retention), so
 * keeping BullMQ's copy would only cost Redis memory per job (about 1.5 KB each). Failed
 * jobs stay a week, for Bull Board's retry, bounded by count.
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 250, jitter: 0.5 },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600, count: 5_000 },
};

/**
 * Worker settings: a long lock (renewed at half its duration) so a multi-second snapshot
 * is never taken for stalled, and two stalls allowed before a job fails. A restarted
 * worker takes its dead predecessor's jobs back at once (src/workers/orphans.ts), so the
 * lock's length does not delay recovery.
 */
export const DEFAULT_WORKER_OPTIONS: Pick<
  WorkerOptions,
  'lockDuration' | 'stalledInterval' | 'maxStalledCount'
> = {
  lockDuration: 60_000,
  stalledInterval: 15_000,
  maxStalledCount: 2,
};

/** The most attempts a worker gives any job, whatever the job asks for. */
export const MAX_ATTEMPTS = 10;

/**
 * What a worker trusts of a job's options: attempts clamped to 1..MAX_ATTEMPTS, and its own
 * backoff whatever the caller set, so a job cannot make a host spin on retries. BullMQ
 * decides a retry from the Job object the processor holds, so setting them here takes effect.
 */
export function applyJobPolicy(opts: JobsOptions): { attempts: number } {
  const asked = Number.isInteger(opts.attempts)
    ? Number(opts.attempts)
    : Number(DEFAULT_JOB_OPTIONS.attempts);
  const attempts = Math.min(MAX_ATTEMPTS, Math.max(1, asked));
  opts.attempts = attempts;
  opts.backoff = DEFAULT_JOB_OPTIONS.backoff;
  return { attempts };
}
