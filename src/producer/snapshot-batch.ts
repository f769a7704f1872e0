import { FlowProducer } from 'bullmq';
import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';
import { DEFAULT_JOB_OPTIONS } from '../queues/job-options.ts';
import { parsePayload } from '../queues/job-schemas.ts';
import { BATCH_QUEUE, bullPrefix, hostQueueName } from '../queues/names.ts';
import type { HangarClient, SandboxSelector, SequencedJob } from './hangar-client.ts';
import { newId } from './hangar-client.ts';
import type { JobHandle } from './job-handle.ts';

/** How a batch snapshot runs. */
export const BatchOptions = z
  .object({
    /** One failing sandbox fails the whole batch (default: no, it is listed among the failures). */
    failFast: z.boolean().default(false),
    /** Snapshots of this batch running at once on one host. */
    concurrencyPerHost: z.number().int().min(1).max(64).default(2),
    resumeAfter: z.boolean().default(true),
    batchId: z.string().optional(),
  })
  .strict();
export type BatchOptions = z.input<typeof BatchOptions>;

/** The parent job's data: what the batch worker needs to report. */
export const BatchParentData = z.object({
  batchId: z.string(),
  total: z.number().int(),
  concurrencyPerHost: z.number().int(),
  /** The client that started the batch: its own channel hears the batch's end. */
  replyTo: z.string().optional(),
});

/** A batch in flight: its id, the sandboxes it covers, and its parent job. */
export interface BatchHandle {
  batchId: string;
  sandboxIds: string[];
  snapshotIds: Record<string, string>;
  parent: JobHandle;
}

/**
 * Snapshots many sandboxes as one BullMQ flow: a parent on the batch queue that waits for
 * one snapshot child per sandbox on that sandbox's host queue. The flow is written in one
 * transaction (all queues share the `{fleet}` hash tag). Children that fail are ignored by
 * the parent unless failFast, so the result lists every snapshot and every failure.
 */
export async function snapshotBatch(
  client: HangarClient,
  target: readonly string[] | SandboxSelector,
  input: BatchOptions = {},
): Promise<BatchHandle> {
  const parsed = BatchOptions.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod('batch options', parsed.error);
  const options = parsed.data;
  const records = Array.isArray(target)
    ? await Promise.all((target as readonly string[]).map((id) => client.get(id)))
    : await client.list({ ...(target as SandboxSelector) });
  // Named sandboxes are all attempted (the worker reports the ones it cannot snapshot);
  // a selector takes only those that can be snapshotted now.
  const chosen = Array.isArray(target)
    ? records.filter((record) => record !== undefined)
    : records.filter((record) => record !== undefined && ['running', 'paused'].includes(record.state));
  if (chosen.length === 0) throw new ValidationError('batch selects no running or paused sandbox');
  const batchId = options.batchId ?? newId('batch');
  const snapshotIds: Record<string, string> = {};
  const prepared: SequencedJob[] = [];
  const children = [];
  try {
    for (const record of chosen) {
      const snapshotId = `${batchId}-${record!.sandboxId}`.slice(0, 40).replace(/-+$/, '');
      snapshotIds[record!.sandboxId] = snapshotId;
      const payload = parsePayload({
        op: 'snapshot',
        sandboxId: record!.sandboxId,
        snapshotId,
        resumeAfter: options.resumeAfter,
        batchId,
      });
      const job = await client.prepareJob(record!.hostId, payload);
      prepared.push(job);
      children.push({
        name: 'snapshot',
        queueName: hostQueueName(record!.hostId),
        data: job.data,
        opts: {
          ...DEFAULT_JOB_OPTIONS,
          jobId: job.ref.jobId,
          ...(options.failFast ? { failParentOnFailure: true } : { ignoreDependencyOnFailure: true }),
        },
      });
    }
    await client.store.putBatch({
      batchId,
      total: chosen.length,
      concurrencyPerHost: options.concurrencyPerHost,
      children: Object.fromEntries(prepared.map((job) => [job.ref.jobId, job.ref.sandboxId])),
      createdAt: new Date().toISOString(),
    });
  } catch (error) {
    // Nobody may wait for a number whose job will never be added.
    for (const job of prepared) await client.abandon(job.ref);
    throw error;
  }
  const flows = new FlowProducer({
    connection: client.store.redis,
    prefix: bullPrefix(client.keys.keyPrefix),
  });
  flows.on('error', () => undefined);
  try {
    const parentJobId = `batch-${batchId}`;
    try {
      await flows.add({
        name: 'snapshot-batch',
        queueName: BATCH_QUEUE,
        data: {
          batchId,
          total: chosen.length,
          concurrencyPerHost: options.concurrencyPerHost,
          replyTo: client.clientId,
        },
        opts: { ...DEFAULT_JOB_OPTIONS, jobId: parentJobId },
        children,
      });
    } catch (error) {
      for (const job of prepared) await client.abandon(job.ref);
      throw error;
    }
    return {
      batchId,
      sandboxIds: chosen.map((record) => record!.sandboxId),
      snapshotIds,
      parent: client.handle({
        jobId: parentJobId,
        hostId: 'fleet',
        sandboxId: batchId,
        op: 'snapshot-batch',
      }),
    };
  } finally {
    await flows.close();
  }
}
