import type { HangarClient } from '../../src/producer/index.ts';
import type { CensusTaker, PhaseCensus } from './census.ts';
import { type DoubleEffects, findDoubleEffects, readAllEvents } from './double-effects.ts';
import { drainAnswers, settleQueues } from './drain.ts';
import { destroyEverything, type FinalDestroy } from './final-destroy.ts';
import { type JobSummary, summarizeJobs } from './job-summary.ts';
import type { JobTracker } from './job-tracker.ts';
import type { KillRecord } from './recovery.ts';
import type { Workload } from './workload.ts';

// Time kept after the waits for the destroy-everything step, the census and the teardown.
const DESTROY_RESERVE_MS = 45_000;
const CENSUS_RESERVE_MS = 15_000;
// Each wait gets at least this long, even past the deadline.
const MIN_WAIT_MS = 15_000;

/** What the end of a phase found. */
export interface PhaseFindings {
  jobs: JobSummary;
  finalDestroy: FinalDestroy;
  doubleEffects: DoubleEffects;
  census: PhaseCensus;
  eventsRead: number;
  /** How long the queues took to hold no unfinished job after the last answer, and whether they did. */
  settled: { idle: boolean; waitedMs: number };
}

/** What the end of a phase works with: the live parts of the phase once its kills are over. */
export interface PhaseParts {
  client: HangarClient;
  tracker: JobTracker;
  workload: Workload;
  /** The workload's run() (it ends when its last call is answered). */
  issuing: Promise<void>;
  census: CensusTaker;
  kills: readonly KillRecord[];
  workerPids: ReadonlySet<number>;
  keyPrefix: string;
  tag: string;
  startedAt: number;
}

/**
 * After the kills: waits for every job's answer (or its loss), destroys every sandbox and waits
 * for those answers too and for the queues to empty, reads the event stream for double
 * effects, sums the jobs up, and takes the leak census while the worker still runs.
 */
export async function finishPhase(
  parts: PhaseParts,
  options: { quiescentMs: number; deadlineAt: number; signal: AbortSignal; log: (line: string) => void },
): Promise<PhaseFindings> {
  const { client, tracker, workload, census, signal, log } = { ...parts, ...options };
  const until = (reserve: number) => Math.max(options.deadlineAt - reserve, Date.now() + MIN_WAIT_MS);
  const wait = { quiescentMs: options.quiescentMs, signal };
  const drained = await drainAnswers(tracker, census.probe, parts.issuing, {
    ...wait,
    until: until(DESTROY_RESERVE_MS),
  });
  log(`workload answered (${drained.abandoned} counted lost: queues idle or time up); destroying everything`);
  if (signal.aborted) throw new Error('stopped by a signal before the end (the teardown still runs)');
  const destroying = destroyEverything(client, tracker, { tag: parts.tag, signal });
  await drainAnswers(tracker, census.probe, destroying, { ...wait, until: until(CENSUS_RESERVE_MS) });
  const finalDestroy = await destroying;
  const settled = await settleQueues(census.probe, { until: until(CENSUS_RESERVE_MS), signal });
  if (settled.waitedMs > 1_000)
    log(`queues ${settled.idle ? 'idle' : 'still busy'} after ${settled.waitedMs} ms`);
  const events = await readAllEvents(client, await census.newestEvent());
  const doubleEffects = findDoubleEffects(events, tracker, workload.batchChildren, workload.keyViolations);
  const jobs = await summarizeJobs(tracker, workload.batchChildren, {
    probe: census.probe,
    keyPrefix: parts.keyPrefix,
    kills: parts.kills,
    startedAt: parts.startedAt,
  });
  const leaks = await census.take(client, workload.model.ids(), parts.workerPids);
  log(`census with everything destroyed: ${leaks.total} leaked objects`);
  return { jobs, finalDestroy, doubleEffects, census: leaks, eventsRead: events.length, settled };
}
