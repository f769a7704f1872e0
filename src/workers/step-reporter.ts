import type { Job } from 'bullmq';
import type { Logger } from '../logging/logger.ts';

/** How long a step runs before Bull Board hears of it (progress and a job log line). */
export const REPORT_AFTER_MS = 250;

/**
 * Reports a job's steps to Bull Board only when they take a while: a step still running
 * REPORT_AFTER_MS after it started is written (progress, and a log line; the attempt line
 * first), so a short job pays no round trip for reporting and a long step shows while it
 * runs. Reports never fail the job.
 */
export class StepReporter {
  readonly #job: Job;
  readonly #log: Logger;
  #header: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(job: Job, header: string, log: Logger) {
    this.#job = job;
    this.#header = header;
    this.#log = log;
  }

  /** A step starts: it is reported if it is still running after REPORT_AFTER_MS. */
  starting(step: string, index: number, total: number): void {
    this.stop();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const lines = [
        ...(this.#header === undefined ? [] : [this.#header]),
        `step ${index + 1}/${total}: ${step}`,
      ];
      this.#header = undefined;
      Promise.all([
        this.#job.updateProgress({ step, percent: Math.round((index / total) * 100) }),
        ...lines.map((line) => this.#job.log(line)),
      ]).catch((error: unknown) => this.#log.warn({ err: error, step }, 'progress report failed'));
    }, REPORT_AFTER_MS);
  }

  /** The operation ended: nothing more is reported. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
