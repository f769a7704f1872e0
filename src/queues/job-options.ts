import type { JobsOptions, WorkerOptions } from 'bullmq';

/**
 * Job options that suit VM work: retries with exponential backoff and jitter (a host step
 * that failed once, a busy device, usually succeeds a moment later), and retention by age
 * and count so Redis never grows without bound. Outcomes live on in our own records.
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 250, jitter: 0.5 },
  removeOnComplete: { age: 24 * 3600, count: 5_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 5_000 },
};

/**
 * Worker settings: a long lock (renewed at half its duration) so a multi-second snapshot
 * is never taken for stalled, and one stall allowed before a job fails.
 */
export const DEFAULT_WORKER_OPTIONS: Pick<
  WorkerOptions,
  'lockDuration' | 'stalledInterval' | 'maxStalledCount'
> = {
  lockDuration: 60_000,
  stalledInterval: 15_000,
  maxStalledCount: 2,
};
