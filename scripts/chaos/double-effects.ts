import type { HangarClient, PositionedEvent } from '../../src/producer/index.ts';
import type { JobTracker } from './job-tracker.ts';
import type { BatchChild, KeyViolation } from './workload.ts';

const IDLE_MS = 3_000;

/** Effects that happened twice, each with the evidence. */
export interface DoubleEffects {
  total: number;
  /**
   * A snapshot id written ('done') by more than one job, or twice by one. A job announcing the
   * same recorded outcome again (same time, same result: a redelivery that only republishes)
   * is one effect.
   */
  snapshotTwice: { snapshotId: string; jobIds: string[]; from: 'events' | 'results' }[];
  /** A sandbox that arrived in 'running' from 'creating' or 'restoring' more than once. */
  createdTwice: { sandboxId: string; arrivals: number; from: 'events' | 'results' }[];
  /** A sandbox in another state than 'destroyed', or a create/restore done, after its 'destroyed'. */
  destroyedBack: { sandboxId: string; position: string; what: string }[];
  /** An idempotency key that answered with two different jobs. */
  keyTwoJobs: KeyViolation[];
  /** Not counted: completions announced again with the same recorded outcome. */
  reannounced: number;
}

/** Reads the whole event stream through the client's events({ after: '0' }), up to its newest event. */
export async function readAllEvents(
  client: HangarClient,
  newest: string | undefined,
): Promise<PositionedEvent[]> {
  const events: PositionedEvent[] = [];
  if (newest === undefined) return events;
  const controller = new AbortController();
  let lastAt = Date.now();
  const idle = setInterval(() => {
    if (Date.now() - lastAt > IDLE_MS) controller.abort();
  }, 250);
  try {
    for await (const positioned of client.events({ after: '0', signal: controller.signal, blockMs: 200 })) {
      lastAt = Date.now();
      events.push(positioned);
      if (compareIds(positioned.position, newest) >= 0) break;
    }
  } finally {
    clearInterval(idle);
  }
  return events;
}

/** Orders two stream ids (`<ms>-<seq>`). */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am === bm ? as - bs : am - bm;
}

/**
 * Finds every effect that happened twice: from the event stream (state arrivals, snapshot
 * completions, anything after 'destroyed'), from the job results the client got (two jobs
 * answering 'done' for one snapshot or one sandbox), and from the idempotency keys.
 */
export function findDoubleEffects(
  events: readonly PositionedEvent[],
  tracker: JobTracker,
  batchChildren: readonly BatchChild[],
  keyTwoJobs: readonly KeyViolation[],
): DoubleEffects {
  const snapshotTwice: DoubleEffects['snapshotTwice'] = [];
  const createdTwice: DoubleEffects['createdTwice'] = [];
  const destroyedBack: DoubleEffects['destroyedBack'] = [];

  // Per snapshot id, its distinct 'done' completions: `<jobId> <at> <result>` -> the job id.
  const doneBy = new Map<string, Map<string, string>>();
  let reannounced = 0;
  const arrivals = new Map<string, number>();
  const destroyed = new Set<string>();
  for (const { position, event } of events) {
    if (event.type === 'job.completed' && event.result.outcome === 'done') {
      if (destroyed.has(event.sandboxId) && (event.op === 'create' || event.op === 'restore')) {
        destroyedBack.push({
          sandboxId: event.sandboxId,
          position,
          what: `${event.op} done by ${event.jobId}`,
        });
      }
      const snapshotId = event.result.snapshotId;
      if (event.op === 'snapshot' && typeof snapshotId === 'string') {
        const completions = doneBy.get(snapshotId) ?? new Map<string, string>();
        const completion = `${event.jobId} ${event.at} ${JSON.stringify(event.result)}`;
        if (completions.has(completion)) reannounced += 1;
        completions.set(completion, event.jobId);
        doneBy.set(snapshotId, completions);
      }
    }
    if (event.type !== 'sandbox.state') continue;
    if (destroyed.has(event.sandboxId) && event.state !== 'destroyed') {
      destroyedBack.push({
        sandboxId: event.sandboxId,
        position,
        what: `state ${event.state} after destroyed`,
      });
    }
    if (event.state === 'destroyed') destroyed.add(event.sandboxId);
    if (event.state === 'running' && (event.previous === 'creating' || event.previous === 'restoring')) {
      arrivals.set(event.sandboxId, (arrivals.get(event.sandboxId) ?? 0) + 1);
    }
  }
  for (const [snapshotId, completions] of doneBy) {
    if (completions.size > 1)
      snapshotTwice.push({ snapshotId, jobIds: [...completions.values()], from: 'events' });
  }
  for (const [sandboxId, count] of arrivals) {
    if (count > 1) createdTwice.push({ sandboxId, arrivals: count, from: 'events' });
  }

  // The same questions asked of the answers the client got (the outcome records).
  const resultSnapshots = new Map<string, string[]>();
  const resultCreates = new Map<string, string[]>();
  for (const job of tracker.jobs()) {
    if (job.fate !== 'completed' || job.result?.outcome !== 'done') continue;
    if (job.op === 'snapshot' && typeof job.result.snapshotId === 'string') {
      push(resultSnapshots, job.result.snapshotId, job.jobId);
    }
    if (job.op === 'create' || job.op === 'restore') push(resultCreates, job.sandboxId, job.jobId);
  }
  for (const child of batchChildren) {
    if (child.outcome === 'done' && child.snapshotId !== undefined) {
      push(resultSnapshots, child.snapshotId, child.jobId);
    }
  }
  for (const [snapshotId, jobIds] of resultSnapshots) {
    const distinct = [...new Set(jobIds)];
    if (distinct.length > 1 && !snapshotTwice.some((seen) => seen.snapshotId === snapshotId)) {
      snapshotTwice.push({ snapshotId, jobIds: distinct, from: 'results' });
    }
  }
  for (const [sandboxId, jobIds] of resultCreates) {
    if (jobIds.length > 1 && !createdTwice.some((seen) => seen.sandboxId === sandboxId)) {
      createdTwice.push({ sandboxId, arrivals: jobIds.length, from: 'results' });
    }
  }
  const total = snapshotTwice.length + createdTwice.length + destroyedBack.length + keyTwoJobs.length;
  return { total, snapshotTwice, createdTwice, destroyedBack, keyTwoJobs: [...keyTwoJobs], reannounced };
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key) ?? [];
  list.push(value);
  map.set(key, list);
}
