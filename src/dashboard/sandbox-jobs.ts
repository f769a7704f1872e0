import type { ErrorInfo, PositionedEvent } from '../events/event-schemas.ts';

/** A job of one sandbox as its page lists it. */
export interface SandboxJob {
  jobId: string;
  op: string;
  /**
   * `unfinished`: it holds its number and has not ended (waiting, delayed or running);
   * `retrying`: an attempt failed and another will come; else how it ended.
   */
  status: 'unfinished' | 'retrying' | 'completed' | 'failed';
  /** When it last told something (its number taken, for an unfinished job with no event yet). */
  at?: string;
  error?: ErrorInfo;
  attempt?: number;
}

/**
 * A sandbox's recent jobs, newest first: the unfinished ones (from its job sequence) and
 * those the stream's recent events tell of (the newest event of a job says where it stands).
 */
export function sandboxJobs(
  sandboxId: string,
  unfinished: readonly { seq: number; jobId: string; takenAtMs: number }[],
  events: readonly PositionedEvent[],
): SandboxJob[] {
  const jobs = new Map<string, SandboxJob>();
  // Events come newest first: the first one of a job is where it stands now.
  for (const { event } of events) {
    if (event.type === 'job.completed' && !jobs.has(event.jobId)) {
      jobs.set(event.jobId, { jobId: event.jobId, op: event.op, status: 'completed', at: event.at });
    } else if (event.type === 'job.failed' && !jobs.has(event.jobId)) {
      jobs.set(event.jobId, {
        jobId: event.jobId,
        op: event.op,
        status: event.willRetry ? 'retrying' : 'failed',
        at: event.at,
        error: event.error,
        attempt: event.attempt,
      });
    }
  }
  const pending = [...unfinished]
    .sort((a, b) => b.seq - a.seq)
    .filter(({ jobId }) => jobs.get(jobId)?.status !== 'retrying')
    .map(({ jobId, takenAtMs }) => ({
      jobId,
      op: opOf(jobId, sandboxId),
      status: 'unfinished' as const,
      at: new Date(takenAtMs).toISOString(),
    }));
  const told = [...jobs.values()].filter((job) => !pending.some((p) => p.jobId === job.jobId));
  return [...pending, ...told];
}

// Job ids read `<op>-<sandboxId>-<seq>-<suffix>` (the enqueue scripts make them so).
function opOf(jobId: string, sandboxId: string): string {
  const at = jobId.indexOf(`-${sandboxId}-`);
  return at > 0 ? jobId.slice(0, at) : '?';
}
