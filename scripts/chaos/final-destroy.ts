import type { HangarClient, SandboxRecord } from '../../src/producer/index.ts';
import { callWithRetry, isRedisDown } from './call-retry.ts';
import type { JobTracker, TrackedJob } from './job-tracker.ts';
import { sleep } from './sleep.ts';

/** What the final destroy-everything step did. */
export interface FinalDestroy {
  /** Sandboxes whose record did not say destroyed. */
  targets: number;
  issued: number;
  /** Destroys the client refused or that failed before any job, by code or message. */
  notIssued: Record<string, number>;
}

/**
 * Destroys every sandbox of the run whose record does not say destroyed (with an idempotency
 * key, so a Redis hiccup cannot double it), and waits for each destroy's answer.
 */
export async function destroyEverything(
  client: HangarClient,
  tracker: JobTracker,
  options: { tag: string; signal: AbortSignal },
): Promise<FinalDestroy> {
  const records = await listRetrying(client);
  const targets = records.filter((record) => record.state !== 'destroyed');
  const result: FinalDestroy = { targets: targets.length, issued: 0, notIssued: {} };
  const answers: Promise<TrackedJob>[] = [];
  await Promise.all(
    targets.map(async (record) => {
      const key = `kd${options.tag}-${record.sandboxId}`;
      const outcome = await callWithRetry(() => client.destroy(record.sandboxId, { idempotencyKey: key }), {
        keyed: true,
        deadlineMs: 60_000,
        signal: options.signal,
      });
      if (outcome.ok) {
        result.issued += 1;
        answers.push(
          tracker.track(outcome.value, { keyed: true, redisRetries: outcome.redisRetries, teardown: true }),
        );
        return;
      }
      const why = outcome.failure.kind === 'refused' ? outcome.failure.code : outcome.failure.message;
      result.notIssued[why] = (result.notIssued[why] ?? 0) + 1;
    }),
  );
  await Promise.all(answers);
  return result;
}

async function listRetrying(client: HangarClient): Promise<SandboxRecord[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.list({});
    } catch (error) {
      if (!isRedisDown(error) || attempt > 100) throw error;
      await sleep(250);
    }
  }
}
