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

  /** Every live sandbox (not destroyed or failed), ordered by creation: `<createdAt>|<id>` members. */
  liveIndex(): string {
    return `${this.prefix}:idx:live`;
  }

  /** A host's live sandboxes, ordered by creation. */
  hostIndex(hostId: string): string {
    return `${this.prefix}:idx:host:${hostId}`;
  }

  /** Live sandboxes in one state, ordered by creation. */
  stateIndex(state: string): string {
    return `${this.prefix}:idx:state:${state}`;
  }

  /** Live sandboxes carrying one label value, ordered by creation. */
  labelIndex(key: string, value: string): string {
    return `${this.prefix}:idx:label:${key}=${value}`;
  }

  /** Destroyed and failed sandboxes whose records are still retained, scored by their expiry (ms). */
  goneIndex(): string {
    return `${this.prefix}:idx:gone`;
  }

  /** Sandboxes by state: exact for live states, cumulative for destroyed and failed. */
  stateCounts(): string {
    return `${this.prefix}:counts`;
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

  /** Highest sequence number up to which every job of a sandbox has finished (or was skipped). */
  finishedSequence(sandboxId: string): string {
    return `${this.prefix}:seq-done:${sandboxId}`;
  }

  /** Finished sequence numbers above the watermark (a skipped add finishes out of order). */
  finishedAbove(sandboxId: string): string {
    return `${this.prefix}:seq-fin:${sandboxId}`;
  }

  /** Unfinished sequence numbers of a sandbox -> `<jobId>|<taken at ms>`, so a job can find its predecessor. */
  sequenceJobs(sandboxId: string): string {
    return `${this.prefix}:seq-jobs:${sandboxId}`;
  }

  /** A host's capacity reservations: sandbox id -> `<vcpus>|<memoryMib>|<jobId>|<at ms>`. */
  reservations(hostId: string): string {
    return `${this.prefix}:reservations:${hostId}`;
  }

  /** The sums of a host's reservations (vcpus, memoryMib, slots), kept with them in one script. */
  reserved(hostId: string): string {
    return `${this.prefix}:reserved:${hostId}`;
  }

  /** The token of the one worker that holds a host id. */
  hostLease(hostId: string): string {
    return `${this.prefix}:lease:${hostId}`;
  }

  /** Hosts by the time of their last heartbeat (ms), for lost-host detection with a grace window. */
  hostsSeen(): string {
    return `${this.prefix}:hosts-seen`;
  }

  /** Set while a host is marked lost; its next heartbeat clears it and republishes its sandboxes. */
  hostLost(hostId: string): string {
    return `${this.prefix}:lost:${hostId}`;
  }

  /** Jobs already counted into a batch's progress (a redelivered child counts once). */
  batchCounted(batchId: string): string {
    return `${this.prefix}:batch-counted:${batchId}`;
  }

  /** BullMQ's key of a job on a host's queue (our scripts check whether the job still exists). */
  bullJob(hostId: string, jobId: string): string {
    return `${this.prefix}:${hostQueueName(hostId)}:${jobId}`;
  }

  /** A key that exists only to give a script a declared key when a call has no idempotency key. */
  placeholder(): string {
    return `${this.prefix}:placeholder`;
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

  /** Pub/sub channel of one client: the outcomes of the jobs it enqueued. */
  replyChannel(clientId: string): string {
    return `${this.prefix}:reply:${clientId}`;
  }

  /** Pub/sub channel for one sandbox. */
  sandboxChannel(sandboxId: string): string {
    return `${this.prefix}:events:sandbox:${sandboxId}`;
  }
}
