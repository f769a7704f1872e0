import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { EventPublisher } from '../events/event-publisher.ts';
import type { Logger } from '../logging/logger.ts';
import { BATCH_QUEUE, bullPrefix } from '../queues/names.ts';
import type { FleetStore } from '../state/fleet-store.ts';

/** One sandbox's line in a batch result. */
export interface BatchLine {
  sandboxId: string;
  jobId: string;
}

/**
 * Consumes the batch queue: a parent runs once every snapshot child has finished (failed
 * children are ignored unless the batch was fail-fast), and reports every snapshot and every
 * failure in one result, kept in our records and published as `batch.completed`.
 */
export function startBatchWorker(options: {
  connection: Redis;
  keyPrefix: string;
  store: FleetStore;
  events: EventPublisher;
  log: Logger;
  hostId: string;
}): Worker {
  const { store, events, log } = options;
  const worker = new Worker(
    BATCH_QUEUE,
    async (job: Job) => {
      const batchId = String(job.data.batchId);
      const values = await job.getChildrenValues();
      const failures = await job.getIgnoredChildrenFailures();
      const snapshots = Object.entries(values).map(([key, value]) => ({
        jobId: jobIdOf(key),
        ...(value as object),
      }));
      const sandboxOf = (await store.getBatch(batchId))?.children ?? {};
      const failed = Object.entries(failures).map(([key, reason]) => ({
        jobId: jobIdOf(key),
        sandboxId: sandboxOf[jobIdOf(key)],
        reason,
      }));
      const result = { batchId, total: Number(job.data.total), snapshots, failures: failed };
      await store.putOutcome(job.id!, { status: 'completed', result, at: new Date().toISOString() });
      const replyTo = typeof job.data.replyTo === 'string' ? job.data.replyTo : undefined;
      await events.publish(
        {
          type: 'batch.completed',
          at: new Date().toISOString(),
          hostId: options.hostId,
          batchId,
          jobId: job.id!,
          result,
        },
        replyTo === undefined ? [] : [store.keys.replyChannel(replyTo)],
      );
      log.info({ batchId, ok: snapshots.length, failed: failed.length }, 'batch completed');
      return result;
    },
    {
      connection: options.connection,
      prefix: bullPrefix(options.keyPrefix),
      concurrency: 4,
      // The batch queue is shared by every host, so no worker may take its jobs back at start
      // as it does its own queue's: a short lock frees a dead worker's batch within seconds,
      // and since summing a batch is idempotent, stalls never fail it.
      lockDuration: 5_000,
      stalledInterval: 2_500,
      maxStalledCount: 1_000,
    },
  );
  worker.on('error', (error) => log.error({ err: error }, 'batch worker error'));
  return worker;
}

// BullMQ keys children as `<prefix>:<queue>:<jobId>`; the job id is the last part.
function jobIdOf(key: string): string {
  return key.slice(key.lastIndexOf(':') + 1);
}
