import { DEFAULT_STREAM_LENGTH } from '../events/event-publisher.ts';
import { HangarEvent } from '../events/event-schemas.ts';
import type { GroupResult } from '../queues/job-results.ts';
import type { KeySpace } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import { GroupRecord, JobOutcome } from './record-schemas.ts';

/** How long a group's record outlives its start (its snapshots' own retention is apart). */
export const GROUP_TTL_SECONDS = 30 * 24 * 3600;

/** Group snapshot records on the fleet's slot, and the announcement of a group's end. */
export class GroupStore {
  readonly #redis: RedisClient;
  readonly #keys: KeySpace;

  constructor(redis: RedisClient, keys: KeySpace) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** Writes a group's record unless one exists (a repeated call keeps the first). */
  async create(record: GroupRecord): Promise<GroupRecord> {
    const checked = GroupRecord.parse(record);
    const key = this.#keys.fleet.group(checked.groupId);
    const set = await this.#redis.set(key, JSON.stringify(checked), 'EX', GROUP_TTL_SECONDS, 'NX');
    return set === null ? ((await this.get(checked.groupId)) ?? checked) : checked;
  }

  async get(groupId: string): Promise<GroupRecord | undefined> {
    const value = await this.#redis.get(this.#keys.fleet.group(groupId));
    if (value === null) return undefined;
    const parsed = GroupRecord.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  }

  async setState(record: GroupRecord, state: GroupRecord['state']): Promise<void> {
    await this.#redis.set(
      this.#keys.fleet.group(record.groupId),
      JSON.stringify(GroupRecord.parse({ ...record, state })),
      'EX',
      GROUP_TTL_SECONDS,
    );
  }

  /**
   * The group's end: its outcome (on the fleet's slot, where its handle looks) and a
   * `group.completed` or `job.failed` event on the stream, the fleet's channel and the
   * starting client's own, in one MULTI.
   */
  async announce(
    jobId: string,
    end: { result: GroupResult } | { error: { code: string; message: string } },
    replyChannel?: string,
  ): Promise<void> {
    const f = this.#keys.fleet;
    const at = new Date().toISOString();
    const outcome: JobOutcome =
      'result' in end
        ? { status: 'completed', result: end.result, at }
        : { status: 'failed', error: end.error, at };
    const event: HangarEvent =
      'result' in end
        ? { type: 'group.completed', at, groupId: end.result.groupId, jobId, result: end.result }
        : {
            type: 'job.failed',
            at,
            jobId,
            op: 'snapshot-group',
            error: end.error,
            willRetry: false,
            attempt: 1,
          };
    const json = JSON.stringify(HangarEvent.parse(event));
    const multi = this.#redis
      .multi()
      .set(f.outcome(jobId), JSON.stringify(JobOutcome.parse(outcome)), 'EX', GROUP_TTL_SECONDS)
      .xadd(f.eventStream(), 'MAXLEN', '~', String(DEFAULT_STREAM_LENGTH), '*', 'e', json)
      .publish(f.fleetChannel(), json);
    if (replyChannel !== undefined) multi.publish(replyChannel, json);
    await multi.exec();
  }
}
