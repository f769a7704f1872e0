import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';
import { JobSignature } from '../signing/job-signature.ts';
import { Identifier } from '../validation/identifiers.ts';

const LabelKey = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'label keys are 1-63 chars of a-z, 0-9, . _ -');

/** Free-form labels for selecting sandboxes (batch snapshots); bounded so records stay small. */
export const Labels = z
  .record(LabelKey, z.string().max(128))
  .refine((labels) => Object.keys(labels).length <= 32, 'at most 32 labels');

/** Create a sandbox from a template (a sandbox from a snapshot is a restore). */
export const CreatePayload = z
  .object({
    op: z.literal('create'),
    sandboxId: Identifier,
    template: Identifier,
    vcpus: z.number().int().min(1).max(32),
    memoryMib: z.number().int().min(128).max(65_536),
    labels: Labels.default({}),
  })
  .strict();

/** Pause a running sandbox (its memory stays in the VMM). */
export const PausePayload = z.object({ op: z.literal('pause'), sandboxId: Identifier }).strict();

/** Resume a paused sandbox. */
export const ResumePayload = z.object({ op: z.literal('resume'), sandboxId: Identifier }).strict();

/** Snapshot memory, device state and disk together; the sandbox goes on running afterwards by default. */
export const SnapshotPayload = z
  .object({
    op: z.literal('snapshot'),
    sandboxId: Identifier,
    snapshotId: Identifier,
    resumeAfter: z.boolean().default(true),
    batchId: Identifier.optional(),
    /** The group snapshot it is part of. */
    groupId: Identifier.optional(),
    /** The retention series it belongs to (its policy keeps a bounded set per sandbox). */
    series: Identifier.optional(),
  })
  .strict();

/** Restore a snapshot as the sandbox `sandboxId` (a new id, on the snapshot's host). */
export const RestorePayload = z
  .object({
    op: z.literal('restore'),
    sandboxId: Identifier,
    snapshotId: Identifier,
    resume: z.boolean().default(true),
    labels: Labels.default({}),
  })
  .strict();

/**
 * Delete a snapshot from its host: record, ledger entry and files. It runs in the order of
 * its sandbox's jobs (`sandboxId` is the snapshot's sandbox, destroyed or not).
 */
export const DeleteSnapshotPayload = z
  .object({ op: z.literal('delete-snapshot'), sandboxId: Identifier, snapshotId: Identifier })
  .strict();

/** Stop the VM and remove everything the sandbox holds on its host. */
export const DestroyPayload = z.object({ op: z.literal('destroy'), sandboxId: Identifier }).strict();

/** Any lifecycle operation, told apart by `op`. */
export const JobPayload = z.discriminatedUnion('op', [
  CreatePayload,
  PausePayload,
  ResumePayload,
  SnapshotPayload,
  RestorePayload,
  DestroyPayload,
  DeleteSnapshotPayload,
]);

export type JobPayload = z.infer<typeof JobPayload>;
export type JobPayloadInput = z.input<typeof JobPayload>;
export type Operation = JobPayload['op'];
export type PayloadOf<O extends Operation> = Extract<JobPayload, { op: O }>;

/** What a host queue's job carries: the payload plus the per-sandbox sequence number. */
export const JobData = z
  .object({
    payload: JobPayload,
    /** Position among this sandbox's jobs; the worker runs them in this order. */
    seq: z.number().int().positive(),
    requestedAt: z.iso.datetime(),
    idempotencyKey: z.string().max(200).optional(),
    /** The enqueuing client's id: its own channel hears the outcome, nobody else's. */
    replyTo: z
      .string()
      .regex(/^[a-z0-9-]{1,40}$/)
      .optional(),
    /** The producer's signature over this data, the job's name, id and queue (see job-signature.ts). */
    sig: JobSignature.optional(),
  })
  .strict();

export type JobData = z.infer<typeof JobData>;

/** Parses a payload at a boundary (producer or worker); the error names each bad field. */
export function parsePayload(input: unknown): JobPayload {
  const parsed = JobPayload.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod('job payload', parsed.error);
  return parsed.data;
}

/** Parses a host job's data; the error names each bad field. */
export function parseJobData(input: unknown): JobData {
  const parsed = JobData.safeParse(input);
  if (!parsed.success) throw ValidationError.fromZod('job data', parsed.error);
  return parsed.data;
}
