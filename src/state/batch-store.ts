import type { z } from 'zod';
import { DEFAULT_STREAM_LENGTH } from '../events/event-publisher.ts';
import { HangarEvent } from '../events/event-schemas.ts';
import { BatchResult } from '../queues/job-results.ts';
import type { KeySpace } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import { BatchRecord, JobOutcome } from './record-schemas.ts';
import { BATCH_PART_LUA } from './scripts/batch-scripts.ts';
import { RedisScript } from './scripts/run-script.ts';

/** How long a batch's records outlive its start. */
export const BATCH_TTL_SECONDS = 7 * 24 * 3600;

const partScript = new RedisScript(BATCH_PART_LUA);

/** A batch's progress: children counted once each. */
export interface BatchProgress {
  done: number;
  failed: number;
  total: number;
}

/** One host's part of a batch's result: its snapshots and its failures. */
export const BatchPart = BatchResult.pick({ snapshots: true, failures: true });
export type BatchPart = z.infer<typeof BatchPart>;

/** What giving a part did: the batch is still waiting for others, or is complete with this result. */
export type PartAnswer =
  | { kind: 'partial' }
  | { kind: 'no-batch' }
  | { kind: 'complete'; result: BatchResult };

/**
 * Batch records on the fleet's slot: the batch itself, its children counted once each
 * (whatever redelivers them), and each host's part of the result. A batch spans hosts
 * without a cross-slot transaction: each host runs its part as one flow on its own slot,
 * and these records join the parts, idempotently.
 */
export class BatchStore {
  readonly #redis: RedisClient;
  readonly #keys: KeySpace;

  constructor(redis: RedisClient, keys: KeySpace) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** Writes a batch's record: its children's sandboxes, its hosts, its size and per-host concurrency. */
  async put(record: BatchRecord): Promise<void> {
    const checked = BatchRecord.parse(record);
    await this.#redis.set(
      this.#keys.fleet.batch(checked.batchId),
      JSON.stringify(checked),
      'EX',
      BATCH_TTL_SECONDS,
    );
  }

  async get(batchId: string): Promise<BatchRecord | undefined> {
    const value = await this.#redis.get(this.#keys.fleet.batch(batchId));
    if (value === null) return undefined;
    const parsed = BatchRecord.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  }

  /** Counts a finished child into its batch once, and returns the batch's progress. */
  async countChild(batchId: string, jobId: string, ok: boolean): Promise<BatchProgress> {
    const f = this.#keys.fleet;
    const counted = f.batchCounted(batchId);
    const results = await this.#redis
      .multi()
      .hsetnx(counted, jobId, ok ? 'done' : 'failed')
      .expire(counted, BATCH_TTL_SECONDS)
      .hvals(counted)
      .get(f.batch(batchId))
      .exec();
    const values = (results?.[2]?.[1] as string[] | undefined) ?? [];
    const record = results?.[3]?.[1] as string | null | undefined;
    const parsed = record ? BatchRecord.safeParse(JSON.parse(record)) : undefined;
    return {
      done: values.filter((value) => value === 'done').length,
      failed: values.filter((value) => value === 'failed').length,
      total: parsed?.success ? parsed.data.total : values.length,
    };
  }

  /**
   * Gives one host's part of a batch (kept once per host). The call that completes the
   * batch, or any later one that finds its outcome missing (its completer died), writes the
   * batch's outcome and announces \`batch.completed\` on the stream, the fleet's channel and
   * the starting client's own, in one step on the fleet's slot.
   */
  async givePart(
    batchId: string,
    hostId: string,
    part: BatchPart,
    announce: { jobId: string; replyChannel?: string },
  ): Promise<PartAnswer> {
    const f = this.#keys.fleet;
    const answer = (await partScript.run(
      this.#redis,
      [f.batchParts(batchId), f.batch(batchId), `${f.batchParts(batchId)}:done`],
      [hostId, JSON.stringify(BatchPart.parse(part)), BATCH_TTL_SECONDS],
    )) as [string, number?, ...string[]];
    if (answer[0] === 'partial') return { kind: 'partial' };
    if (answer[0] === 'nobatch') return { kind: 'no-batch' };
    const parts = [];
    for (let index = 3; index < answer.length; index += 2)
      parts.push(BatchPart.parse(JSON.parse(String(answer[index]))));
    const batch = await this.get(batchId);
    const result: BatchResult = {
      batchId,
      total: batch?.total ?? 0,
      snapshots: parts.flatMap((p) => p.snapshots),
      failures: parts.flatMap((p) => p.failures),
    };
    const first = answer[1] === 1;
    if (first || (await this.#redis.exists(f.outcome(announce.jobId))) === 0) {
      await this.#announce(result, announce);
    }
    return { kind: 'complete', result };
  }

  async #announce(result: BatchResult, announce: { jobId: string; replyChannel?: string }): Promise<void> {
    const f = this.#keys.fleet;
    const at = new Date().toISOString();
    const outcome = JSON.stringify(JobOutcome.parse({ status: 'completed', result, at }));
    const event = JSON.stringify(
      HangarEvent.parse({
        type: 'batch.completed',
        at,
        batchId: result.batchId,
        jobId: announce.jobId,
        result,
      }),
    );
    const multi = this.#redis
      .multi()
      .set(f.outcome(announce.jobId), outcome, 'EX', BATCH_TTL_SECONDS)
      .xadd(f.eventStream(), 'MAXLEN', '~', String(DEFAULT_STREAM_LENGTH), '*', 'e', event)
      .publish(f.fleetChannel(), event);
    if (announce.replyChannel !== undefined) multi.publish(announce.replyChannel, event);
    await multi.exec();
  }
}
