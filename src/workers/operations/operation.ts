import { HangarError, isPermanent } from '../../errors/index.ts';
import type { Logger } from '../../logging/logger.ts';
import type {
  DeleteSnapshotResult,
  SandboxResult,
  SnapshotResult,
  StateResult,
} from '../../queues/job-results.ts';
import type { JobInfo, JobInstrument } from '../job-instruments.ts';
import type { Step } from '../step-runner.ts';
import { runSteps } from '../step-runner.ts';

/** What the job processor hands an operation about the attempt it runs in. */
export interface OperationRun {
  log: Logger;
  /** The job this attempt belongs to (recorded with transitional states). */
  jobId: string;
  /** No retry follows this attempt: a failure now must roll back. */
  isFinalAttempt: boolean;
  /** Says a step starts (Bull Board shows the long ones). */
  progress(step: string, index: number, total: number): void;
  /** Wraps each step (metrics, traces); the job it belongs to. */
  instrument?: { step: JobInstrument['step']; job: JobInfo };
}

/** A result as an operation reports it; the job processor adds the host and the attempt's times. */
export type Reported<T> = Omit<T, 'hostId' | 'startedAt' | 'finishedAt'>;

/** What a finished operation reports; `outcome: 'already'` marks a repeat of a finished transition. */
export type OperationResult =
  | Reported<SandboxResult>
  | Reported<StateResult>
  | Reported<SnapshotResult>
  | Reported<DeleteSnapshotResult>;

/** Whether a failure ends the attempt for good, so what it built is rolled back. */
export function rollbackPolicy(run: OperationRun): (error: unknown) => boolean {
  return (error) => run.isFinalAttempt || (error instanceof HangarError && isPermanent(error.code));
}

/** Runs an operation's steps with progress reports, instruments and the attempt's rollback policy. */
export function runOperationSteps(run: OperationRun, given: readonly Step[]): Promise<void> {
  const instrument = run.instrument;
  const steps =
    instrument === undefined
      ? given
      : given.map((step, index) => ({
          ...step,
          run: () =>
            instrument.step({ job: instrument.job, step: step.name, index, total: given.length }, () =>
              step.run(),
            ),
        }));
  return runSteps(steps, {
    log: run.log,
    rollback: rollbackPolicy(run),
    onStep: (name, index) => {
      run.log.info({ step: name }, 'step');
      run.progress(name, index, steps.length);
    },
  });
}
