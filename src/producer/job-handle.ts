import type { JobOutcome } from '../state/record-schemas.ts';
import type { OutcomeWaiter } from './outcome-waiter.ts';
import { JobFailedError } from './producer-errors.ts';

/** Where a job went: enough to find its outcome again. */
export interface JobRef {
  jobId: string;
  hostId: string;
  sandboxId: string;
  op: string;
}

/** Default wait for a job's result: long enough for a large snapshot. */
export const DEFAULT_RESULT_TIMEOUT_MS = 120_000;

/** A job the client enqueued; `result()` resolves with its outcome or rejects with a typed error. */
export class JobHandle implements JobRef {
  readonly jobId: string;
  readonly hostId: string;
  readonly sandboxId: string;
  readonly op: string;
  readonly #waiter: OutcomeWaiter;

  constructor(ref: JobRef, waiter: OutcomeWaiter) {
    this.jobId = ref.jobId;
    this.hostId = ref.hostId;
    this.sandboxId = ref.sandboxId;
    this.op = ref.op;
    this.#waiter = waiter;
  }

  /** The operation's result; rejects with JobFailedError (its code says why) or TimeoutError. */
  async result(timeoutMs = DEFAULT_RESULT_TIMEOUT_MS): Promise<Record<string, unknown>> {
    const outcome: JobOutcome = await this.#waiter.wait({ home: this.hostId, jobId: this.jobId }, timeoutMs);
    if (outcome.status === 'failed') throw new JobFailedError(this.jobId, outcome.error);
    return outcome.result;
  }

  toJSON(): JobRef {
    return { jobId: this.jobId, hostId: this.hostId, sandboxId: this.sandboxId, op: this.op };
  }
}
