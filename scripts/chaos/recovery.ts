import { quantile } from '../../bench/support/stats.ts';
import type { TrackedJob } from './job-tracker.ts';

/** One kill: when it landed, how many calls were in flight, and when the killed part was back. */
export interface KillRecord {
  kind: 'worker' | 'redis';
  at: number;
  /** When the new worker said it was consuming, or the restarted Redis answered PING. */
  readyAt: number;
  inFlight: number;
  pid?: number | undefined;
}

/** How long jobs caught in flight by a kill took to be answered once the killed part was back. */
export interface RecoverySummary {
  /** Jobs answered after being in flight at a kill of this kind. */
  n: number;
  /** From the restart after the first kill that caught the job (lock expiry and retries included). */
  fromFirstKill: Quantiles;
  /** From the restart after the last kill that caught it (how long a settled worker still took). */
  fromLastKill: Quantiles;
}

/** Median, 99th percentile and maximum, in ms (null without samples). */
export interface Quantiles {
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/**
 * For every answered job that was in flight at a kill of `kind` (issued before it, answered
 * after it), the time from that kill's recovery to the job's answer: for the first such kill
 * and for the last.
 */
export function recoveryAfter(
  jobs: readonly TrackedJob[],
  kills: readonly KillRecord[],
  kind: KillRecord['kind'],
): RecoverySummary {
  const ofKind = kills.filter((kill) => kill.kind === kind);
  const first: number[] = [];
  const last: number[] = [];
  for (const job of jobs) {
    if (job.resolvedAt === undefined) continue;
    const answeredAt = job.resolvedAt;
    const caught = ofKind.filter((kill) => kill.at > job.issuedAt && kill.at < answeredAt);
    const [earliest, latest] = [caught.at(0), caught.at(-1)];
    if (earliest === undefined || latest === undefined) continue;
    first.push(Math.max(0, answeredAt - earliest.readyAt));
    last.push(Math.max(0, answeredAt - latest.readyAt));
  }
  return { n: first.length, fromFirstKill: quantiles(first), fromLastKill: quantiles(last) };
}

function quantiles(samples: number[]): Quantiles {
  const round = (value: number) => (Number.isFinite(value) ? Math.round(value) : null);
  return {
    p50Ms: round(quantile(samples, 0.5)),
    p99Ms: round(quantile(samples, 0.99)),
    maxMs: samples.length === 0 ? null : Math.max(...samples),
  };
}
