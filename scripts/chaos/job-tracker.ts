import { ErrorCode, HangarError } from '../../src/errors/index.ts';
import { JobFailedError, type JobHandle } from '../../src/producer/index.ts';
import { isRedisDown } from './call-retry.ts';
import { sleep } from './sleep.ts';

/** Where a job ended up: answered (completed or failed), still awaited, or lost. */
export type JobFate = 'pending' | 'completed' | 'failed' | 'lost';

/** One job the campaign issued, from its handle to its answer. */
export interface TrackedJob {
  jobId: string;
  op: string;
  sandboxId: string;
  /** When the handle came back (the job exists from then on). */
  issuedAt: number;
  resolvedAt?: number;
  fate: JobFate;
  /** The error code of a failed job (a JobFailedError's, or what went wrong in the client). */
  code?: string;
  message?: string;
  /** The result's fields the audits read (outcome, snapshotId, sandboxId, state; a batch's lines). */
  result?: Record<string, unknown>;
  /**
   * 'timeout': result() never came within the timeout; 'quiescent': no job was left that could
   * answer it; 'deadline': the campaign's time ran out first.
   */
  lostHow?: 'timeout' | 'quiescent' | 'deadline';
  /** result() calls that failed because Redis was down and were made again. */
  resultRetries: number;
  /** Enqueue calls sent again (same idempotency key) because Redis was down. */
  redisRetries: number;
  keyed: boolean;
  /** Issued by the final destroy-everything step, not by the workload. */
  teardown: boolean;
}

/** What the campaign knows about a job when it tracks it. */
export interface JobMeta {
  keyed: boolean;
  redisRetries: number;
  teardown?: boolean;
}

const KEPT_RESULT_FIELDS = [
  'outcome',
  'snapshotId',
  'sandboxId',
  'state',
  'batchId',
  'snapshots',
  'failures',
];

/**
 * Every job the campaign issued: awaits each one's result() (again after a Redis outage, for
 * the time left), and records when and how it was answered. A job issued twice (a repeated
 * idempotency key) is tracked once.
 */
export class JobTracker {
  readonly #jobs = new Map<string, TrackedJob>();
  readonly #settled = new Map<string, Promise<TrackedJob>>();
  readonly #abandon = new Map<string, (how: 'quiescent' | 'deadline') => void>();
  readonly #timeoutMs: number;
  #lastAnswerAt = 0;

  constructor(options: { resultTimeoutMs: number }) {
    this.#timeoutMs = options.resultTimeoutMs;
  }

  /** Starts awaiting a handle's job (once per job id); resolves when it is answered or lost. */
  track(handle: JobHandle, meta: JobMeta): Promise<TrackedJob> {
    const known = this.#settled.get(handle.jobId);
    if (known !== undefined) return known;
    const job: TrackedJob = {
      jobId: handle.jobId,
      op: handle.op,
      sandboxId: handle.sandboxId,
      issuedAt: Date.now(),
      fate: 'pending',
      resultRetries: 0,
      redisRetries: meta.redisRetries,
      keyed: meta.keyed,
      teardown: meta.teardown ?? false,
    };
    this.#jobs.set(job.jobId, job);
    const settled = new Promise<TrackedJob>((resolve) => {
      this.#abandon.set(job.jobId, (how) => {
        if (job.fate === 'pending') Object.assign(job, { fate: 'lost', lostHow: how });
        resolve(job);
      });
      void this.#await(handle, job).then(() => resolve(job));
    });
    this.#settled.set(job.jobId, settled);
    return settled;
  }

  /** Whether a job id was issued before (a repeated idempotency key must map to it). */
  has(jobId: string): boolean {
    return this.#jobs.has(jobId);
  }

  /** Every tracked job. */
  jobs(): TrackedJob[] {
    return [...this.#jobs.values()];
  }

  /** Jobs still awaited. */
  pending(): TrackedJob[] {
    return this.jobs().filter((job) => job.fate === 'pending');
  }

  /** When the last job was answered (ms since the epoch; 0 before the first). */
  get lastAnswerAt(): number {
    return this.#lastAnswerAt;
  }

  /** Counts every job still awaited as lost: nothing left could answer it, or time is up. */
  abandonPending(how: 'quiescent' | 'deadline'): void {
    for (const job of this.pending()) this.#abandon.get(job.jobId)?.(how);
  }

  async #await(handle: JobHandle, job: TrackedJob): Promise<void> {
    const deadline = job.issuedAt + this.#timeoutMs;
    while (job.fate === 'pending') {
      const left = deadline - Date.now();
      if (left <= 0) {
        Object.assign(job, { fate: 'lost', lostHow: 'timeout' });
        return;
      }
      try {
        const result = await handle.result(left);
        this.#answer(job, { fate: 'completed', result: keptFields(result) });
      } catch (error) {
        if (error instanceof JobFailedError) {
          this.#answer(job, { fate: 'failed', code: error.code, message: error.message });
        } else if (error instanceof HangarError && error.code === ErrorCode.Timeout) {
          if (job.fate === 'pending') Object.assign(job, { fate: 'lost', lostHow: 'timeout' });
        } else if (isRedisDown(error)) {
          job.resultRetries++;
          await sleep(250);
        } else {
          const name = error instanceof Error ? error.name : 'unknown';
          const message = error instanceof Error ? error.message : String(error);
          this.#answer(job, { fate: 'failed', code: `client:${name}`, message });
        }
      }
    }
  }

  // A job counted lost by the quiescence rule that is answered after all keeps the answer, so
  // the report shows the rule was wrong instead of hiding it.
  #answer(job: TrackedJob, answer: Partial<TrackedJob>): void {
    if (job.fate !== 'pending' && job.lostHow !== 'quiescent') return;
    const late = job.fate === 'lost';
    Object.assign(job, answer, { resolvedAt: Date.now() });
    if (late) job.message = `${job.message ?? ''} (answered after it was counted lost)`.trim();
    delete job.lostHow;
    this.#lastAnswerAt = Date.now();
  }
}

function keptFields(result: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(result).filter(([key]) => KEPT_RESULT_FIELDS.includes(key)));
}
