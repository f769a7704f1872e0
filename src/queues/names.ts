import { assertIdentifier } from '../validation/identifiers.ts';

/**
 * Every hangar key carries one hash tag, `{fleet}`, so on Redis Cluster all queues and
 * records sit in one slot: a batch flow (parent on the batch queue, children on every
 * host's queue) is written in one transaction, and our MULTI blocks stay legal. The price
 * is one shard for the control plane; a fleet that outgrows it splits into several fleets.
 */
export const FLEET_TAG = '{fleet}';

/** The BullMQ prefix for a deployment whose key prefix is `keyPrefix` (default 'hangar'). */
export function bullPrefix(keyPrefix: string): string {
  return `${keyPrefix}:${FLEET_TAG}`;
}

/** The queue a host's worker consumes. */
export function hostQueueName(hostId: string): string {
  return `host-${assertIdentifier(hostId, 'hostId')}`;
}

/** The queue batch pipelines' parent jobs live on. */
export const BATCH_QUEUE = 'batch';

/** Builds hangar's own Redis keys (records, events, heartbeats) under the same hash tag. */
export class KeySpace {
  readonly keyPrefix: string;
  readonly prefix: string;

  constructor(keyPrefix: string) {
    this.keyPrefix = keyPrefix;
    this.prefix = bullPrefix(keyPrefix);
  }

  sandbox(sandboxId: string): string {
    return `${this.prefix}:sandbox:${sandboxId}`;
  }

  /** Set of every sandbox id ever created and not yet forgotten. */
  sandboxes(): string {
    return `${this.prefix}:sandboxes`;
  }

  snapshot(snapshotId: string): string {
    return `${this.prefix}:snapshot:${snapshotId}`;
  }

  snapshots(): string {
    return `${this.prefix}:snapshots`;
  }

  /** A host's heartbeat; expires when the host stops beating. */
  heartbeat(hostId: string): string {
    return `${this.prefix}:heartbeat:${hostId}`;
  }

  /** Every host that ever registered (the dashboard and the lost-host check read it). */
  hosts(): string {
    return `${this.prefix}:hosts`;
  }

  idempotency(key: string): string {
    return `${this.prefix}:idem:${key}`;
  }

  /** Per-sandbox job sequence: assigned at enqueue, so the worker runs jobs in that order. */
  sequence(sandboxId: string): string {
    return `${this.prefix}:seq:${sandboxId}`;
  }

  /** Highest sequence number whose job has finished for a sandbox. */
  finishedSequence(sandboxId: string): string {
    return `${this.prefix}:seq-done:${sandboxId}`;
  }

  /** The final outcome of a job, kept after BullMQ trims the job itself. */
  jobOutcome(jobId: string): string {
    return `${this.prefix}:outcome:${jobId}`;
  }

  batch(batchId: string): string {
    return `${this.prefix}:batch:${batchId}`;
  }

  /** The capped event stream `events()` catches up from. */
  eventStream(): string {
    return `${this.prefix}:events`;
  }

  /** Pub/sub channel for the whole fleet. */
  fleetChannel(): string {
    return `${this.prefix}:events:fleet`;
  }

  /** Pub/sub channel for one sandbox. */
  sandboxChannel(sandboxId: string): string {
    return `${this.prefix}:events:sandbox:${sandboxId}`;
  }
}
