import type { ZodType } from 'zod';
import { CorruptStateError } from '../errors/index.ts';
import type { JobOutcome } from '../state/record-schemas.ts';
import type { OutcomeWaiter } from './outcome-waiter.ts';
import { JobFailedError } from './producer-errors.ts';

/** Where a job went: enough to find its outcome again (from this process or another). */
export interface JobRef {
  jobId: string;
  /** The sandbox's host, or 'fleet' for a batch. */
  hostId: string;
  sandboxId: string;
  op: string;
}

/** How long `result()` waits, and what may stop it early. */
export interface ResultOptions {
  /** Default DEFAULT_RESULT_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Aborting stops the wait (AbortedError); the job itself goes on. */
  signal?: AbortSignal;
}

/** Default wait for a job's result: long enough for a large snapshot. */
export const DEFAULT_RESULT_TIMEOUT_MS = 120_000;

/**
 * A job the client enqueued; `result()` resolves with the operation's own result, checked
 * against its schema, or rejects with a typed error.
 */
export class JobHandle<R = Record<string, unknown>> implements JobRef {
  readonly jobId: string;
  readonly hostId: string;
  readonly sandboxId: string;
  readonly op: string;
  readonly #waiter: OutcomeWaiter;
  readonly #schema: ZodType<R> | undefined;

  constructor(ref: JobRef, waiter: OutcomeWaiter, schema?: ZodType<R>) {
    this.jobId = ref.jobId;
    this.hostId = ref.hostId;
    this.sandboxId = ref.sandboxId;
    this.op = ref.op;
    this.#waiter = waiter;
    this.#schema = schema;
  }

  /**
   * The operation's result. Rejects with JobFailedError (its `code` says why the job
   * failed), TimeoutError, or AbortedError; a number is the timeout in ms.
   */
  async result(options: ResultOptions | number = {}): Promise<R> {
    const { timeoutMs = DEFAULT_RESULT_TIMEOUT_MS, signal } =
      typeof options === 'number' ? { timeoutMs: options } : options;
    const outcome: JobOutcome = await this.#waiter.wait(
      { home: this.hostId, jobId: this.jobId },
      timeoutMs,
      signal,
    );
    if (outcome.status === 'failed') throw new JobFailedError(this.jobId, outcome.error);
    if (this.#schema === undefined) return outcome.result as R;
    const parsed = this.#schema.safeParse(outcome.result);
    if (!parsed.success) throw new CorruptStateError(`the result of job ${this.jobId}`, parsed.error);
    return parsed.data;
  }

  toJSON(): JobRef {
    return { jobId: this.jobId, hostId: this.hostId, sandboxId: this.sandboxId, op: this.op };
  }
}
