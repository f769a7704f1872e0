import { FlowProducer } from 'bullmq';
import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';
import { DEFAULT_JOB_OPTIONS } from '../queues/job-options.ts';
import { type BatchResult, BatchResult as BatchResultSchema } from '../queues/job-results.ts';
import { parsePayload } from '../queues/job-schemas.ts';
import { BATCH_QUEUE, FLEET_HOME, hostPrefix, hostQueueName } from '../queues/names.ts';
import { JobSignature } from '../signing/job-signature.ts';
import { RetentionPolicy } from '../state/retention-policy.ts';
import { Identifier } from '../validation/identifiers.ts';
import { internalsOf } from './client-internals.ts';
import type { HangarClient, SandboxSelector } from './hangar-client.ts';
import type { JobHandle } from './job-handle.ts';
import type { SequencedJob } from './job-submitter.ts';
import { newId } from './new-id.ts';
import { tracedCall } from './traced-enqueue.ts';

/** How a batch snapshot runs. */
export const BatchOptions = z
  .object({
    /** One failing sandbox fails the whole batch (default: no, it is listed among the failures). */
    failFast: z.boolean().default(false),
    /** Snapshots of this batch running at once on one host. */
    concurrencyPerHost: z.number().int().min(1).max(64).default(2),
    resumeAfter: z.boolean().default(true),
    batchId: z.string().optional(),
    /**
     * The series the batch's snapshots belong to (a nightly pipeline passes the same each
     * night); with `retention`, workers keep each sandbox's snapshots of the series bounded.
     */
    series: Identifier.optional(),
    retention: RetentionPolicy.optional(),
  })
  .strict()
  .refine((options) => options.retention === undefined || options.series !== undefined, {
    message: 'a retention policy needs the series it applies to',
    path: ['series'],
  });
export type BatchOptions = z.input<typeof BatchOptions>;

/** A host's parent job's data: what the batch worker needs to report its part. */
export const BatchParentData = z.object({
  batchId: z.string(),
  /** Sandboxes in the whole batch (this host's part is its children). */
  total: z.number().int(),
  concurrencyPerHost: z.number().int(),
  /** The client that started the batch: its own channel hears the batch's end. */
  replyTo: z.string().optional(),
  /** The producer's signature, as a host job's (see job-signature.ts). */
  sig: JobSignature.optional(),
});

/** A batch in flight: its id, the sandboxes it covers, and its parent job. */
export interface BatchHandle {
  batchId: string;
  sandboxIds: string[];
  snapshotIds: Record<string, string>;
  /** The batch's own job: its result lists every snapshot and every failure. */
  parent: JobHandle<BatchResult>;
}

/** The name of a batch's parent jobs. */
export const BATCH_PARENT_NAME = 'snapshot-batch';

/** The parent job of every host's part of a batch (one per host, each on its host's slot). */
export function batchParentJobId(batchId: string): string {
  return `batch-${batchId}`;
}

/**
 * Snapshots many sandboxes as one BullMQ flow per host: on each host's slot, a parent on
 * the host's batch queue that waits for one snapshot child per sandbox of that host. No
 * transaction spans hosts: the batch record on the fleet's slot names the hosts, and each
 * host's parent gives its part there once; the last part to arrive completes the batch.
 * Children that fail are ignored by their parent unless failFast, so the result lists
 * every snapshot and every failure.
 */
export function snapshotBatch(
  client: HangarClient,
  target: readonly string[] | SandboxSelector,
  input: BatchOptions = {},
): Promise<BatchHandle> {
  return tracedCall(
    internalsOf(client).tracing,
    'snapshot-batch',
    {},
    () => startBatch(client, target, input),
    (batch) => ({ 'hangar.batch_id': batch.batchId, 'hangar.batch_size': batch.sandboxIds.length }),
  );
}

async function startBatch(
  client: HangarClient,
  target: readonly string[] | SandboxSelector,
  input: BatchOptions,
): Promise<BatchHandle> {
  const parsed = BatchOptions.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod('batch options', parsed.error);
  const options = parsed.data;
  const { store, keys, submitter, clientId, handle, tracing } = internalsOf(client);
  const records = Array.isArray(target)
    ? await Promise.all((target as readonly string[]).map((id) => client.get(id)))
    : await client.list({ ...(target as SandboxSelector) });
  // Named sandboxes are all attempted (the worker reports the ones it cannot snapshot);
  // a selector takes only those that can be snapshotted now.
  const chosen = (
    Array.isArray(target)
      ? records.filter((record) => record !== undefined)
      : records.filter((record) => record !== undefined && ['running', 'paused'].includes(record.state))
  ) as NonNullable<(typeof records)[number]>[];
  if (chosen.length === 0) throw new ValidationError('batch selects no running or paused sandbox');
  const batchId = options.batchId ?? newId('batch');
  const snapshotIds: Record<string, string> = {};
  const prepared = new Map<string, SequencedJob[]>();
  try {
    for (const record of chosen) {
      const snapshotId = `${batchId}-${record.sandboxId}`.slice(0, 40).replace(/-+$/, '');
      snapshotIds[record.sandboxId] = snapshotId;
      const payload = parsePayload({
        op: 'snapshot',
        sandboxId: record.sandboxId,
        snapshotId,
        resumeAfter: options.resumeAfter,
        batchId,
        ...(options.series === undefined ? {} : { series: options.series }),
      });
      const job = await submitter.numbered(record.hostId, payload);
      prepared.set(record.hostId, [...(prepared.get(record.hostId) ?? []), job]);
    }
    if (options.series !== undefined && options.retention !== undefined) {
      await store.snapshots.setPolicy(options.series, options.retention);
    }
    await store.batches.put({
      batchId,
      total: chosen.length,
      concurrencyPerHost: options.concurrencyPerHost,
      children: Object.fromEntries(
        [...prepared.values()].flat().map((job) => [job.ref.jobId, job.ref.sandboxId]),
      ),
      hosts: [...prepared.keys()],
      createdAt: new Date().toISOString(),
    });
  } catch (error) {
    // Nobody may wait for a number whose job will never be added.
    for (const job of [...prepared.values()].flat()) await submitter.abandon(job.ref);
    throw error;
  }
  // Its adds carry the batch's trace into every child job.
  const flows = new FlowProducer({
    connection: store.redis,
    ...(tracing === undefined ? {} : { telemetry: tracing.telemetry }),
  });
  flows.on('error', () => undefined);
  try {
    for (const [hostId, jobs] of prepared) {
      const prefix = hostPrefix(keys.keyPrefix, hostId);
      try {
        await flows.add({
          name: BATCH_PARENT_NAME,
          queueName: BATCH_QUEUE,
          prefix,
          // Signed like every job (the batch worker checks it): a forged parent runs no VM
          // step, but it could give this host's part of the batch's result first.
          data: submitter.signed(
            { hostId, queue: BATCH_QUEUE, jobId: batchParentJobId(batchId), name: BATCH_PARENT_NAME },
            {
              batchId,
              total: chosen.length,
              concurrencyPerHost: options.concurrencyPerHost,
              replyTo: clientId,
            },
          ),
          opts: { ...DEFAULT_JOB_OPTIONS, jobId: batchParentJobId(batchId) },
          children: jobs.map((job) => ({
            name: 'snapshot',
            queueName: hostQueueName(hostId),
            prefix,
            data: job.data,
            opts: {
              ...DEFAULT_JOB_OPTIONS,
              jobId: job.ref.jobId,
              ...(options.failFast ? { failParentOnFailure: true } : { ignoreDependencyOnFailure: true }),
            },
          })),
        });
      } catch (error) {
        // This host's part never started: its children are given back and reported failed,
        // so the batch still completes with the other hosts' parts.
        for (const job of jobs) await submitter.abandon(job.ref);
        const failures = jobs.map((job) => ({
          jobId: job.ref.jobId,
          sandboxId: job.ref.sandboxId,
          reason: `could not add the batch's flow on host ${hostId}: ${String(error)}`,
        }));
        await store.batches.givePart(
          batchId,
          hostId,
          { snapshots: [], failures },
          { jobId: batchParentJobId(batchId), replyChannel: keys.fleet.replyChannel(clientId) },
        );
      }
    }
    return {
      batchId,
      sandboxIds: chosen.map((record) => record.sandboxId),
      snapshotIds,
      parent: handle(
        { jobId: batchParentJobId(batchId), hostId: FLEET_HOME, sandboxId: batchId, op: 'snapshot-batch' },
        BatchResultSchema,
      ),
    };
  } finally {
    await flows.close();
  }
}
