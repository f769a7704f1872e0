import { z } from 'zod';
import { Identifier } from '../validation/identifiers.ts';

/** The states a sandbox record can be in. */
export const SandboxState = z.enum([
  'creating',
  'running',
  'paused',
  'snapshotting',
  'restoring',
  'destroying',
  'destroyed',
  'crashed',
  'failed',
  'lost',
]);
export type SandboxState = z.infer<typeof SandboxState>;

/** An error as it travels in events and job outcomes. */
export const ErrorInfo = z.object({ code: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof ErrorInfo>;

const Base = { at: z.iso.datetime(), hostId: Identifier.optional() };

/** Everything hangar tells the outside world, told apart by `type`. */
export const HangarEvent = z.discriminatedUnion('type', [
  z.object({
    ...Base,
    type: z.literal('job.completed'),
    jobId: z.string(),
    op: z.string(),
    sandboxId: Identifier,
    result: z.record(z.string(), z.unknown()),
  }),
  z.object({
    ...Base,
    type: z.literal('job.failed'),
    jobId: z.string(),
    op: z.string(),
    /** Absent when the job's payload was too malformed to name its sandbox. */
    sandboxId: Identifier.optional(),
    error: ErrorInfo,
    /** False when this was the last attempt (or the error is permanent). */
    willRetry: z.boolean(),
    attempt: z.number().int(),
  }),
  z.object({
    ...Base,
    type: z.literal('sandbox.state'),
    sandboxId: Identifier,
    state: SandboxState,
    previous: SandboxState.optional(),
  }),
  z.object({
    ...Base,
    type: z.literal('sandbox.crashed'),
    sandboxId: Identifier,
    pid: z.number().int(),
    code: z.number().int().nullable(),
    signal: z.string().nullable(),
    logTail: z.string(),
  }),
  z.object({ ...Base, type: z.literal('host.lost'), lostHostId: Identifier, sandboxes: z.array(Identifier) }),
  /** A host marked lost beats again; its sandboxes' records are back to what its ledger says. */
  z.object({ ...Base, type: z.literal('host.recovered'), sandboxes: z.array(Identifier) }),
  z.object({
    ...Base,
    type: z.literal('batch.completed'),
    batchId: Identifier,
    jobId: z.string(),
    result: z.record(z.string(), z.unknown()),
  }),
  /** A group snapshot's end: every member snapshotted at one barrier, or none (the error says why). */
  z.object({
    ...Base,
    type: z.literal('group.completed'),
    groupId: Identifier,
    jobId: z.string(),
    result: z.record(z.string(), z.unknown()),
  }),
  z.object({
    ...Base,
    type: z.literal('batch.progress'),
    batchId: Identifier,
    done: z.number().int(),
    failed: z.number().int(),
    total: z.number().int(),
  }),
]);

export type HangarEvent = z.infer<typeof HangarEvent>;
export type HangarEventType = HangarEvent['type'];

/** An event with its position in the stream, to resume from after a disconnect. */
export interface PositionedEvent {
  position: string;
  event: HangarEvent;
}
