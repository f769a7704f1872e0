import { z } from 'zod';
import { ErrorInfo, SandboxState } from '../events/event-schemas.ts';
import { Labels } from '../queues/job-schemas.ts';
import { Identifier } from '../validation/identifiers.ts';

/** A sandbox as the fleet knows it: where it runs, in what state, with what addresses. */
export const SandboxRecord = z.object({
  sandboxId: Identifier,
  hostId: Identifier,
  state: SandboxState,
  template: Identifier,
  vcpus: z.number().int(),
  memoryMib: z.number().int(),
  labels: Labels,
  slot: z.number().int().optional(),
  /** The sandbox's host-reachable address (DNAT to the guest). */
  address: z.string().optional(),
  fromSnapshot: Identifier.optional(),
  diskBytes: z.number().int().optional(),
  pid: z.number().int().optional(),
  lastError: ErrorInfo.optional(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type SandboxRecord = z.infer<typeof SandboxRecord>;

/** What a snapshot needs of the host it is restored on: the CPU it ran on and the VMM that wrote it. */
export const SnapshotCompat = z.object({
  cpuModel: z.string(),
  /** The CPU flags (x86 /proc/cpuinfo `flags`) of the host it was taken on; a restore host must have them all. */
  cpuFlags: z.array(z.string()),
  vmm: z.object({ kind: z.string(), version: z.string() }),
});
export type SnapshotCompat = z.infer<typeof SnapshotCompat>;

/** A snapshot: memory + device state + disk copy, taken together while the VM was paused. */
export const SnapshotRecord = z.object({
  snapshotId: Identifier,
  sandboxId: Identifier,
  hostId: Identifier,
  template: Identifier,
  vcpus: z.number().int(),
  memoryMib: z.number().int(),
  /** Bytes really used on disk by the memory/state files and by the disk copy. */
  memoryBytes: z.number().int(),
  diskBytes: z.number().int(),
  /** The sandbox's labels when it was taken (snapshots are listed and kept by them). */
  labels: Labels.default({}),
  batchId: Identifier.optional(),
  groupId: Identifier.optional(),
  /** The retention series it belongs to (a nightly batch's, say): its policy keeps a bounded set. */
  series: Identifier.optional(),
  compat: SnapshotCompat.optional(),
  createdAt: z.iso.datetime(),
});
export type SnapshotRecord = z.infer<typeof SnapshotRecord>;

/** What a host tells the fleet in each heartbeat. */
export const HostHeartbeat = z.object({
  hostId: Identifier,
  backend: z.object({ kind: z.string(), standIn: z.boolean(), description: z.string() }),
  capacity: z.object({ vcpus: z.number().int(), memoryMib: z.number().int(), slots: z.number().int() }),
  used: z.object({ vcpus: z.number().int(), memoryMib: z.number().int(), slots: z.number().int() }),
  templates: z.array(Identifier),
  /** The host's VM pool by template: ready and warming VMs against the target, and their shape. */
  pool: z
    .record(
      Identifier,
      z.object({
        ready: z.number().int(),
        warming: z.number().int(),
        target: z.number().int(),
        vcpus: z.number().int(),
        memoryMib: z.number().int(),
      }),
    )
    .default({}),
  /** The snapshots the host holds and the bytes they really use. */
  snapshots: z.object({ count: z.number().int(), bytes: z.number().int() }).default({ count: 0, bytes: 0 }),
  /** The state dir's free bytes and the reserve creates, restores and snapshots never eat into. */
  disk: z.object({ freeBytes: z.number().int(), reserveBytes: z.number().int() }).optional(),
  /** The host's CPU (a snapshot restores only where every flag it was taken with exists) and VMM version. */
  cpu: z.object({ model: z.string(), flags: z.array(z.string()) }).optional(),
  vmmVersion: z.string().optional(),
  /** Where the host's transfer server serves its snapshots (absent: it serves none). */
  transferUrl: z.url().optional(),
  /** What pool VMs hold of the host, apart from sandboxes (capacity is what is left for sandboxes). */
  poolUsed: z
    .object({ vcpus: z.number().int(), memoryMib: z.number().int(), slots: z.number().int() })
    .default({ vcpus: 0, memoryMib: 0, slots: 0 }),
  startedAt: z.iso.datetime(),
  at: z.iso.datetime(),
});
export type HostHeartbeat = z.infer<typeof HostHeartbeat>;
export type HostHeartbeatInput = z.input<typeof HostHeartbeat>;

/** A job's final outcome, kept in our own records after BullMQ trims the job. */
const Starts = {
  /** How many times a worker started the job (BullMQ keeps a completed job no longer than that). */
  starts: z.number().int().min(0).optional(),
};

export const JobOutcome = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('completed'),
    result: z.record(z.string(), z.unknown()),
    at: z.iso.datetime(),
    ...Starts,
  }),
  z.object({ status: z.literal('failed'), error: ErrorInfo, at: z.iso.datetime(), ...Starts }),
]);
export type JobOutcome = z.infer<typeof JobOutcome>;

/** A group snapshot: its members, each snapshotted at one barrier, and where it stands. */
export const GroupRecord = z.object({
  groupId: Identifier,
  members: z
    .array(
      z.object({
        sandboxId: Identifier,
        hostId: Identifier,
        snapshotId: Identifier,
        /** Its state when the group was asked for: a running member runs again afterwards. */
        prior: z.enum(['running', 'paused']),
      }),
    )
    .min(1),
  /** 'taking' until every member is snapshotted and running again; 'failed' left nothing half-taken. */
  state: z.enum(['taking', 'taken', 'failed']),
  createdAt: z.iso.datetime(),
});
export type GroupRecord = z.infer<typeof GroupRecord>;

/** A batch snapshot: its size, its per-host concurrency, and which sandbox each child job snapshots. */
export const BatchRecord = z.object({
  batchId: Identifier,
  total: z.number().int(),
  concurrencyPerHost: z.number().int().min(1),
  /** Child job id -> sandbox id. */
  children: z.record(z.string(), Identifier),
  /** The hosts the batch runs on: each runs its part as one flow on its own slot. */
  hosts: z.array(Identifier).min(1),
  createdAt: z.iso.datetime(),
});
export type BatchRecord = z.infer<typeof BatchRecord>;
