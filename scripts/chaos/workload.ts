import type { HangarClient, JobHandle } from '../../src/producer/index.ts';
import { snapshotBatch } from '../../src/producer/snapshot-batch.ts';
import { DEMO_TEMPLATE_ID } from '../../src/templates/demo-template.ts';
import { type CallFailure, callWithRetry, isRedisDown } from './call-retry.ts';
import type { JobTracker, TrackedJob } from './job-tracker.ts';
import type { Prng } from './prng.ts';
import { sleep } from './sleep.ts';
import { type Action, sandboxesOf, WorkloadModel } from './workload-model.ts';

/** The label key every workload sandbox carries (its value is the workload's tag). */
export const WORKLOAD_LABEL = 'chaos';

/** How long a call keeps being sent again while Redis is down or no host is live. */
const CALL_DEADLINE_MS = 60_000;

/** How a workload runs. */
export interface WorkloadOptions {
  prng: Prng;
  /** Sandboxes kept alive at once. */
  sandboxes: number;
  inFlight: number;
  keyedShare: number;
  repeatShare: number;
  /** Short tag in every id the workload makes (the phase number). */
  tag: string;
  signal: AbortSignal;
  log: (line: string) => void;
}

/** What the workload's calls did before any job existed. */
export interface CallStats {
  calls: number;
  byOp: Record<string, number>;
  keyed: number;
  /** Calls sent twice with the same idempotency key on purpose. */
  repeats: number;
  /** Sends repeated because Redis was down (same key, so the same job). */
  redisRetries: number;
  /** Sends repeated because the client saw no live host (nothing had been written). */
  hostRetries: number;
  /** Calls the client refused before enqueueing, by code (a destroyed sandbox, say). */
  refused: Record<string, number>;
  /** Calls that failed otherwise, by message. */
  errors: Record<string, number>;
  /** Calls still failing when their retry deadline passed. */
  gaveUp: number;
}

/** An idempotency key that answered with two different jobs. */
export interface KeyViolation {
  key: string;
  jobIds: string[];
}

/** A batch child as the batch's result reported it. */
export interface BatchChild {
  batchId: string;
  jobId: string;
  snapshotId?: string;
  outcome?: string;
  failed?: string;
}

/**
 * The random workload: lifecycle calls over about `sandboxes` sandboxes with at most
 * `inFlight` calls in flight, some with idempotency keys and some of those repeated; every
 * job's result is awaited through the tracker.
 */
export class Workload {
  readonly stats: CallStats = {
    calls: 0,
    byOp: {},
    keyed: 0,
    repeats: 0,
    redisRetries: 0,
    hostRetries: 0,
    refused: {},
    errors: {},
    gaveUp: 0,
  };
  readonly keyViolations: KeyViolation[] = [];
  readonly batchChildren: BatchChild[] = [];
  readonly model: WorkloadModel;
  readonly #client: HangarClient;
  readonly #tracker: JobTracker;
  readonly #options: WorkloadOptions;
  readonly #running = new Set<Promise<void>>();
  #stopped = false;

  constructor(client: HangarClient, tracker: JobTracker, options: WorkloadOptions) {
    this.#client = client;
    this.#tracker = tracker;
    this.#options = options;
    this.model = new WorkloadModel({ prng: options.prng, target: options.sandboxes, tag: options.tag });
  }

  /**
   * Issues calls at random intervals until stop() (waiting while `inFlight` are in flight or no
   * sandbox can take one), then waits for every call in flight to be answered (or lost).
   */
  async run(): Promise<void> {
    const { prng, signal } = this.#options;
    while (!this.#stopped && !signal.aborted) {
      if (this.#running.size >= this.#options.inFlight) {
        await Promise.race(this.#running);
        continue;
      }
      const action = this.model.pick();
      if (action === undefined) {
        await Promise.race([...this.#running, sleep(50, signal)]);
        continue;
      }
      const task: Promise<void> = this.#perform(action)
        .catch((error: unknown) => this.#options.log(`workload: ${action.op} broke: ${String(error)}`))
        .finally(() => this.#running.delete(task));
      this.#running.add(task);
      // Calls arrive at random intervals, not only when an answer frees a place: during a Redis
      // outage no answer can come, and the calls made then are the ones that must ride it out.
      await sleep(prng.int(20, 200), signal);
    }
    await Promise.allSettled([...this.#running]);
  }

  /**
   * Resolves once the workload has its sandboxes up (or after `maxMs`): the kills start then,
   * so they land among operations on live sandboxes and not only on the first creates.
   */
  async established(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while (this.model.up() < this.#options.sandboxes && Date.now() < until && !this.#options.signal.aborted) {
      await sleep(100, this.#options.signal);
    }
  }

  /** Stops issuing new calls (those in flight go on). */
  stop(): void {
    this.#stopped = true;
  }

  /** Calls in flight now. */
  get inFlight(): number {
    return this.#running.size;
  }

  async #perform(action: Action): Promise<void> {
    const { prng } = this.#options;
    this.model.begin(action);
    this.stats.calls += 1;
    this.stats.byOp[action.op] = (this.stats.byOp[action.op] ?? 0) + 1;
    // A batch has no idempotency key: its batch id plays that part when it is sent again.
    const keyed = action.op === 'batch' || prng.chance(this.#options.keyedShare);
    const key = keyed && action.op !== 'batch' ? this.model.newId('k') : undefined;
    if (keyed) this.stats.keyed += 1;
    const repeat = key !== undefined && prng.chance(this.#options.repeatShare);
    const concurrent = repeat && prng.chance(0.5);
    try {
      const sends = concurrent
        ? [this.#send(action, key), this.#send(action, key)]
        : [this.#send(action, key)];
      const sent = (await Promise.all(sends)).filter((one) => one !== undefined);
      if (repeat && !concurrent && sent.length > 0) {
        const again = await this.#send(action, key);
        if (again !== undefined) sent.push(again);
      }
      if (repeat) this.stats.repeats += 1;
      const distinct = [...new Set(sent.map(({ handle }) => handle.jobId))];
      if (key !== undefined && distinct.length > 1) this.keyViolations.push({ key, jobIds: distinct });
      const jobs = await Promise.all(
        distinct.map((jobId) => {
          const mine = sent.filter(({ handle }) => handle.jobId === jobId);
          const redisRetries = mine.reduce((sum, one) => sum + one.redisRetries, 0);
          return this.#tracker.track(mine[0]!.handle, { keyed, redisRetries });
        }),
      );
      for (const job of jobs) this.#learn(action, job);
    } finally {
      for (const id of sandboxesOf(action)) {
        if (this.model.finish(id)) await this.#correct(id);
      }
    }
  }

  // One send of a call; the handle, or undefined when the call gave no job (counted by why).
  async #send(
    action: Action,
    key: string | undefined,
  ): Promise<{ handle: JobHandle; redisRetries: number } | undefined> {
    const options = key === undefined ? {} : { idempotencyKey: key };
    const client = this.#client;
    const call = async (): Promise<JobHandle> => {
      switch (action.op) {
        case 'create':
          return client.create(
            {
              template: DEMO_TEMPLATE_ID,
              vcpus: 1,
              memoryMib: 128,
              labels: { [WORKLOAD_LABEL]: this.#options.tag },
              sandboxId: action.sandboxId,
            },
            options,
          );
        case 'restore':
          return client.restore(action.snapshotId, { sandboxId: action.sandboxId }, options);
        case 'snapshot':
          return client.snapshot(action.sandboxId, { snapshotId: action.snapshotId }, options);
        case 'batch':
          return (await snapshotBatch(client, action.sandboxIds, { batchId: action.batchId })).parent;
        default:
          return client[action.op](action.sandboxId, options);
      }
    };
    const outcome = await callWithRetry(call, {
      keyed: key !== undefined || action.op === 'batch',
      deadlineMs: CALL_DEADLINE_MS,
      signal: this.#options.signal,
    });
    this.stats.redisRetries += outcome.redisRetries;
    this.stats.hostRetries += outcome.hostRetries;
    if (outcome.ok) {
      if (outcome.redisRetries > 0) {
        this.#options.log(`workload: ${action.op} sent again ${outcome.redisRetries}x after Redis was down`);
      }
      return { handle: outcome.value, redisRetries: outcome.redisRetries };
    }
    this.#countFailure(outcome.failure);
    return undefined;
  }

  #countFailure(failure: CallFailure): void {
    if (failure.kind === 'refused')
      this.stats.refused[failure.code] = (this.stats.refused[failure.code] ?? 0) + 1;
    else if (failure.kind === 'gave-up') this.stats.gaveUp += 1;
    else this.stats.errors[failure.message] = (this.stats.errors[failure.message] ?? 0) + 1;
  }

  // Snapshots that completed become restore sources; a batch's lines are kept for the audit.
  #learn(action: Action, job: TrackedJob): void {
    if (job.fate !== 'completed') return;
    if (action.op === 'snapshot') this.model.addSnapshot(action.snapshotId);
    if (action.op !== 'batch') return;
    const snapshots = (job.result?.snapshots as Record<string, unknown>[] | undefined) ?? [];
    const failures = (job.result?.failures as Record<string, unknown>[] | undefined) ?? [];
    for (const line of snapshots) {
      const snapshotId = typeof line.snapshotId === 'string' ? line.snapshotId : undefined;
      if (snapshotId !== undefined) this.model.addSnapshot(snapshotId);
      this.batchChildren.push({
        batchId: action.batchId,
        jobId: String(line.jobId),
        ...(snapshotId === undefined ? {} : { snapshotId }),
        ...(typeof line.outcome === 'string' ? { outcome: line.outcome } : {}),
      });
    }
    for (const line of failures) {
      this.batchChildren.push({
        batchId: action.batchId,
        jobId: String(line.jobId),
        failed: String(line.reason),
      });
    }
  }

  // Re-reads the record of a sandbox with nothing in flight, so the next call fits its state.
  async #correct(id: string): Promise<void> {
    for (let attempt = 0; attempt < 40; attempt++) {
      try {
        this.model.correct(id, (await this.#client.get(id))?.state);
        return;
      } catch (error) {
        if (!isRedisDown(error)) {
          this.#options.log(`workload: reading ${id} failed: ${String(error)}`);
          return;
        }
        await sleep(250);
      }
    }
  }
}
