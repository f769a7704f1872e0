import { z } from 'zod';
import { SandboxState } from '../events/event-schemas.ts';
import { Identifier } from '../validation/identifiers.ts';
import type { Operation } from './job-schemas.ts';

/** 'done': the job made the change; 'already': it had been made (a repeat, or a retry after a crash). */
export const EnsureOutcome = z.enum(['done', 'already']);
export type EnsureOutcome = z.infer<typeof EnsureOutcome>;

const Common = {
  outcome: EnsureOutcome,
  sandboxId: Identifier,
  /** The host the sandbox lives on. */
  hostId: Identifier,
  /** When the worker started and finished the attempt that completed the job. */
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
};

/** What create and restore give back: the sandbox, its state and where it answers. */
export const SandboxResult = z.object({
  ...Common,
  state: SandboxState,
  /** The sandbox's host-reachable address (DNAT to the guest). */
  address: z.string().optional(),
  slot: z.number().int().optional(),
  /** Bytes its copy-on-write disk really uses (a restored clone: what it wrote over the snapshot's disk). */
  diskBytes: z.number().int().optional(),
});
export type SandboxResult = z.infer<typeof SandboxResult>;

/** What pause, resume and destroy give back: the state the sandbox is now in. */
export const StateResult = z.object({ ...Common, state: SandboxState });
export type StateResult = z.infer<typeof StateResult>;

/** What a snapshot gives back: its id and the bytes it really uses on disk. */
export const SnapshotResult = z.object({
  ...Common,
  snapshotId: Identifier,
  /** Bytes the memory and device state use (sparse: what is written). */
  memoryBytes: z.number().int(),
  /** Bytes the disk copy uses. */
  diskBytes: z.number().int(),
});
export type SnapshotResult = z.infer<typeof SnapshotResult>;

/** What a snapshot's deletion gives back: the bytes its files used. */
export const DeleteSnapshotResult = z.object({
  ...Common,
  snapshotId: Identifier,
  freedBytes: z.number().int(),
});
export type DeleteSnapshotResult = z.infer<typeof DeleteSnapshotResult>;

/** What a batch snapshot gives back: every snapshot taken and every sandbox that failed. */
export const BatchResult = z.object({
  batchId: Identifier,
  total: z.number().int(),
  snapshots: z.array(SnapshotResult.extend({ jobId: z.string() })),
  failures: z.array(z.object({ jobId: z.string(), sandboxId: z.string().optional(), reason: z.string() })),
});
export type BatchResult = z.infer<typeof BatchResult>;

/** What a group snapshot gives back: every member's snapshot, and how long each stayed paused. */
export const GroupResult = z.object({
  groupId: Identifier,
  snapshots: z.array(
    z.object({
      sandboxId: Identifier,
      hostId: Identifier,
      snapshotId: Identifier,
      memoryBytes: z.number().int(),
      diskBytes: z.number().int(),
      /** From the end of its pause to the end of its resume (the barrier, then every snapshot). */
      pausedMs: z.number(),
    }),
  ),
});
export type GroupResult = z.infer<typeof GroupResult>;

/** Each operation's result schema: the worker checks what it reports, the client what it reads. */
export const RESULT_SCHEMAS = {
  create: SandboxResult,
  restore: SandboxResult,
  pause: StateResult,
  resume: StateResult,
  destroy: StateResult,
  snapshot: SnapshotResult,
  'delete-snapshot': DeleteSnapshotResult,
} as const satisfies Record<Operation, z.ZodType>;

/** The result type of an operation. */
export type ResultOf<O extends Operation> = z.infer<(typeof RESULT_SCHEMAS)[O]>;
