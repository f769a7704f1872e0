import type { JobTracker } from './job-tracker.ts';
import type { QueueProbe } from './queue-probe.ts';
import { sleep } from './sleep.ts';

const POLL_MS = 500;

/**
 * Waits until every job issued (while `issuing` runs, and before) is answered. A job whose
 * answer can no longer come is counted lost without waiting out its timeout: that is when the
 * run's queues have held no unfinished job, and no answer arrived, for `quiescentMs` (every
 * answer is written by a worker running a job, so nothing is left that could write it). At
 * `until` (ms since the epoch) whatever is still awaited is counted lost too.
 */
export async function drainAnswers(
  tracker: JobTracker,
  probe: QueueProbe,
  issuing: Promise<unknown>,
  options: { quiescentMs: number; until: number; signal: AbortSignal },
): Promise<{ abandoned: number }> {
  let issued = false;
  void issuing.finally(() => {
    issued = true;
  });
  let quietSince: number | undefined;
  let abandoned = 0;
  while (!options.signal.aborted) {
    const pending = tracker.pending().length;
    if (issued && pending === 0) break;
    if (Date.now() >= options.until) {
      abandoned += pending;
      tracker.abandonPending('deadline');
    }
    const busy = pending === 0 ? true : await probe.busy();
    const now = Date.now();
    if (busy === false) {
      quietSince = Math.max(quietSince ?? now, tracker.lastAnswerAt);
      if (now - quietSince >= options.quiescentMs) {
        abandoned += tracker.pending().length;
        tracker.abandonPending('quiescent');
        quietSince = undefined;
      }
    } else {
      quietSince = undefined;
    }
    await sleep(POLL_MS, options.signal);
  }
  if (options.signal.aborted) {
    abandoned += tracker.pending().length;
    tracker.abandonPending('deadline');
  }
  await issuing.catch(() => undefined);
  return { abandoned };
}

/**
 * Waits until the run's queues hold no unfinished job (two looks in a row), or `until`: a job
 * whose answer came but that a kill left active is redelivered once its lock expires, and only
 * then is nothing in flight. Resolves with whether the queues went idle, and how long it took.
 */
export async function settleQueues(
  probe: QueueProbe,
  options: { until: number; signal: AbortSignal },
): Promise<{ idle: boolean; waitedMs: number }> {
  const started = Date.now();
  let idleLooks = 0;
  while (idleLooks < 2 && Date.now() < options.until && !options.signal.aborted) {
    idleLooks = (await probe.busy()) === false ? idleLooks + 1 : 0;
    if (idleLooks < 2) await sleep(POLL_MS, options.signal);
  }
  return { idle: idleLooks >= 2, waitedMs: Date.now() - started };
}
