import { type Job, Worker } from 'bullmq';
import type { Logger } from '../logging/logger.ts';
import { BATCH_QUEUE, hostPrefix } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import type { JobKey } from '../signing/job-key.ts';
import { checkJobSignature, queueAddress } from '../signing/job-signature.ts';
import type { BatchPart } from '../state/batch-store.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import { errorInfo, toJobError } from './error-policy.ts';

/**
 * Consumes this host's batch queue: a parent runs once every snapshot child of this host
 * has finished (failed children are ignored unless the batch was fail-fast) and gives this
 * host's part of the result to the batch's record on the fleet's slot; the part that
 * completes the batch writes its outcome and announces `batch.completed` once.
 * With a job key a parent must be signed like any job: a forged one runs no VM step (its
 * children, the snapshots, are checked on the host queue), but it could give this host's
 * part of a batch's result before the real parent does.
 */
export function startBatchWorker(options: {
  connection: RedisClient;
  keyPrefix: string;
  store: FleetStore;
  log: Logger;
  hostId: string;
  jobKey?: JobKey | undefined;
}): Worker {
  const { store, log, hostId, jobKey } = options;
  const prefix = hostPrefix(options.keyPrefix, hostId);
  const queue = queueAddress(prefix, BATCH_QUEUE);
  const worker = new Worker(
    BATCH_QUEUE,
    async (job: Job) => {
      if (jobKey !== undefined) {
        try {
          checkJobSignature(jobKey, { queue, jobId: job.id!, name: job.name }, job.data);
        } catch (error) {
          log.warn({ jobId: job.id, name: job.name, ...errorInfo(error) }, 'batch parent refused');
          throw toJobError(error);
        }
      }
      const batchId = String(job.data.batchId);
      const values = await job.getChildrenValues();
      const failures = await job.getIgnoredChildrenFailures();
      const sandboxOf = (await store.batches.get(batchId))?.children ?? {};
      const part: BatchPart = {
        snapshots: Object.entries(values).map(([key, value]) => ({
          jobId: jobIdOf(key),
          // The child's result, as its own processor checked it.
          ...(value as Omit<BatchPart['snapshots'][number], 'jobId'>),
        })),
        failures: Object.entries(failures).map(([key, reason]) => ({
          jobId: jobIdOf(key),
          ...(sandboxOf[jobIdOf(key)] === undefined ? {} : { sandboxId: sandboxOf[jobIdOf(key)] }),
          reason: String(reason),
        })),
      };
      const replyTo = typeof job.data.replyTo === 'string' ? job.data.replyTo : undefined;
      const answer = await store.batches.givePart(batchId, hostId, part, {
        jobId: job.id!,
        ...(replyTo === undefined ? {} : { replyChannel: store.keys.fleet.replyChannel(replyTo) }),
      });
      log.info(
        { batchId, ok: part.snapshots.length, failed: part.failures.length, batch: answer.kind },
        'batch part done',
      );
      return part;
    },
    {
      connection: options.connection,
      prefix,
      concurrency: 4,
    },
  );
  worker.on('error', (error) => log.error({ err: error }, 'batch worker error'));
  return worker;
}

// BullMQ keys children as `<prefix>:<queue>:<jobId>`; the job id is the last part.
function jobIdOf(key: string): string {
  return key.slice(key.lastIndexOf(':') + 1);
}
