import { type Job, UnrecoverableError } from 'bullmq';
import { ErrorCode, HangarError, isPermanent } from '../errors/index.ts';
import type { Operation } from '../queues/job-schemas.ts';

/** One attempt of a job, as instruments see it. */
export interface JobInfo {
  job: Job;
  jobId: string;
  op: Operation;
  sandboxId: string;
  hostId: string;
  /** 1-based attempt number. */
  attempt: number;
  /** No retry follows this attempt. */
  isFinalAttempt: boolean;
}

/** One step of an operation within a job attempt. */
export interface StepInfo {
  job: JobInfo;
  step: string;
  index: number;
  total: number;
}

/** Something the worker tells instruments about outside any job. */
export type HostNote =
  | { kind: 'vmm-crash'; sandboxId: string }
  | { kind: 'redis-error' }
  | { kind: 'ledger-write'; ms: number };

/**
 * What observes the worker's jobs without the job path knowing what it is: metrics, traces.
 * `job` wraps one attempt's processing (after validation and the ordering gate), `step` one
 * step of its operation; both run `run` and hand its result or error through unchanged.
 */
export interface JobInstrument {
  job<T>(info: JobInfo, run: () => Promise<T>): Promise<T>;
  step<T>(info: StepInfo, run: () => Promise<T>): Promise<T>;
  note?(note: HostNote): void;
}

/** Observes nothing. */
export const NO_INSTRUMENT: JobInstrument = {
  job: (_info, run) => run(),
  step: (_info, run) => run(),
};

/** Several instruments as one: the first wraps the outermost. */
export function combineInstruments(instruments: readonly JobInstrument[]): JobInstrument {
  if (instruments.length === 0) return NO_INSTRUMENT;
  return {
    job: (info, run) =>
      instruments.reduceRight<() => Promise<never>>(
        (inner, outer) => () => outer.job(info, inner) as Promise<never>,
        run as () => Promise<never>,
      )(),
    step: (info, run) =>
      instruments.reduceRight<() => Promise<never>>(
        (inner, outer) => () => outer.step(info, inner) as Promise<never>,
        run as () => Promise<never>,
      )(),
    note: (note) => {
      for (const instrument of instruments) instrument.note?.(note);
    },
  };
}

/** How an attempt that threw ended: for good (no retry follows) or not, and the code it failed with. */
export function failureOf(info: JobInfo, error: unknown): { final: boolean; code: string } {
  // The processor throws BullMQ's UnrecoverableError for a permanent code, the original as its cause.
  const hangar = [error, error instanceof Error ? error.cause : undefined].find(
    (candidate): candidate is HangarError => candidate instanceof HangarError,
  );
  const code = hangar?.code ?? ErrorCode.Internal;
  return { final: info.isFinalAttempt || error instanceof UnrecoverableError || isPermanent(code), code };
}
