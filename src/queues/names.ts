import { assertIdentifier } from '../validation/identifiers.ts';

/**
 * hangar's keys sit under two kinds of hash tag, so a fleet spreads over a Redis Cluster's
 * masters and no script or MULTI ever spans two slots:
 *
 * - `{host:<hostId>}`: one host's queues (BullMQ's keys) and everything its job path
 *   touches: its sandboxes' records, indexes, counters, job sequences, outcomes,
 *   idempotency keys, reservations, heartbeat, lease and event outbox. A job's whole life,
 *   from enqueue to its end, is a handful of scripts on this one slot.
 * - `{fleet}`: what spans hosts: the host registry and the placement index, the directory
 *   of which host holds a sandbox, create/restore idempotency keys, snapshot and batch
 *   records, and the fleet's event stream. The per-job path touches it once, at placement.
 *
 * On a single Redis (the default) the tags change nothing.
 */
export const FLEET_TAG = '{fleet}';

/** The hash tag of one host's slot. */
export function hostTag(hostId: string): string {
  return `{host:${assertIdentifier(hostId, 'hostId')}}`;
}

/** The BullMQ prefix of a host's queues: its jobs share the host's slot. */
export function hostPrefix(keyPrefix: string, hostId: string): string {
  return `${keyPrefix}:${hostTag(hostId)}`;
}

/** The queue a host's worker consumes. */
export function hostQueueName(hostId: string): string {
  return `host-${assertIdentifier(hostId, 'hostId')}`;
}

/** The queue, beside each host's own, that holds that host's part of batch pipelines. */
export const BATCH_QUEUE = 'batch';

/** The queue, beside each host's own, that holds the coordinators of group snapshots. */
export const GROUP_QUEUE = 'group';

/** Where a job's outcome lives: on its host's slot, or the fleet's for a batch. */
export type OutcomeHome = string | 'fleet';

/** The outcome home of fleet-level jobs (a batch's parent). */
export const FLEET_HOME = 'fleet';

/** Builds hangar's Redis keys: the fleet's, and each host's under its own tag. */
export class KeySpace {
  readonly keyPrefix: string;
  readonly fleet: FleetKeys;
  readonly #hosts = new Map<string, HostKeys>();

  constructor(keyPrefix: string) {
    this.keyPrefix = keyPrefix;
    this.fleet = new FleetKeys(`${keyPrefix}:${FLEET_TAG}`);
  }

  /** The keys of one host's slot. */
  host(hostId: string): HostKeys {
    let keys = this.#hosts.get(hostId);
    if (keys === undefined) {
      keys = new HostKeys(hostId, hostPrefix(this.keyPrefix, hostId));
      this.#hosts.set(hostId, keys);
    }
    return keys;
  }

  /** The key of a job's outcome, on its host's slot or (for a batch) the fleet's. */
  outcome(home: OutcomeHome, jobId: string): string {
    return home === FLEET_HOME ? this.fleet.outcome(jobId) : this.host(home).jobOutcome(jobId);
  }
}

/** Keys on the `{fleet}` slot. */
export class FleetKeys {
  /** `<keyPrefix>:{fleet}`. */
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** Every host that ever registered (listings and the dashboard read it). */
  hosts(): string {
    return `${this.prefix}:hosts`;
  }

  /** Hosts by the time of their last heartbeat (ms), for lost-host detection with a grace window. */
  hostsSeen(): string {
    return `${this.prefix}:hosts-seen`;
  }

  /** Hosts serving a template, scored by free memory (MiB): placement reads its top. */
  placement(templateId: string): string {
    return `${this.prefix}:place:${templateId}`;
  }

  /** Host id -> its free capacity as its last heartbeat saw it, less creates placed since. */
  hostFree(): string {
    return `${this.prefix}:host-free`;
  }

  /** The host that holds a sandbox (set at placement; a sandbox never moves). */
  where(sandboxId: string): string {
    return `${this.prefix}:where:${sandboxId}`;
  }

  /** A create's or restore's idempotency key (they have no host until placed). */
  idempotency(key: string): string {
    return `${this.prefix}:idem:${key}`;
  }

  snapshot(snapshotId: string): string {
    return `${this.prefix}:snapshot:${snapshotId}`;
  }

  snapshots(): string {
    return `${this.prefix}:snapshots`;
  }

  /** Snapshots by creation time: all of them, or those of one host, sandbox, batch, group, series or label. */
  snapshotIndex(
    by: 'all' | 'host' | 'sandbox' | 'batch' | 'group' | 'series' | 'label',
    value: string,
  ): string {
    return by === 'all' ? `${this.prefix}:snap-idx:all` : `${this.prefix}:snap-idx:${by}:${value}`;
  }

  /** A snapshot series' retention policy (keep the last N per sandbox, for D days). */
  snapshotPolicy(series: string): string {
    return `${this.prefix}:snap-policy:${series}`;
  }

  batch(batchId: string): string {
    return `${this.prefix}:batch:${batchId}`;
  }

  /** A group snapshot: its members, their snapshots and where it stands. */
  group(groupId: string): string {
    return `${this.prefix}:group:${groupId}`;
  }

  /** Children already counted into a batch's progress (a redelivered child counts once). */
  batchCounted(batchId: string): string {
    return `${this.prefix}:batch-counted:${batchId}`;
  }

  /** Each host's part of a batch's result, by host id (a part delivered twice is kept once). */
  batchParts(batchId: string): string {
    return `${this.prefix}:batch-parts:${batchId}`;
  }

  /** The outcome of a fleet-level job (a batch). */
  outcome(jobId: string): string {
    return `${this.prefix}:outcome:${jobId}`;
  }

  /** The capped event stream `events()` reads. */
  eventStream(): string {
    return `${this.prefix}:events`;
  }

  /** Host id -> the last outbox number forwarded into the stream (so a replay adds nothing twice). */
  forwarded(): string {
    return `${this.prefix}:forwarded`;
  }

  /** A key that exists only to give a script a declared key when a call has no idempotency key. */
  placeholder(): string {
    return `${this.prefix}:placeholder`;
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

/** Keys on one host's `{host:<id>}` slot (BullMQ's keys of its queues included). */
export class HostKeys {
  readonly hostId: string;
  /** `<keyPrefix>:{host:<id>}`: also the BullMQ prefix of the host's queues. */
  readonly prefix: string;

  constructor(hostId: string, prefix: string) {
    this.hostId = hostId;
    this.prefix = prefix;
  }

  sandbox(sandboxId: string): string {
    return `${this.prefix}:sandbox:${sandboxId}`;
  }

  /** The host's live sandboxes (not destroyed or failed), ordered by creation: `<createdAt>|<id>` members. */
  liveIndex(): string {
    return `${this.prefix}:idx:live`;
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

  /** Idempotency key of a job on an existing sandbox of this host. */
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

  /** The final outcome of a job, kept after BullMQ trims the job itself. */
  jobOutcome(jobId: string): string {
    return `${this.prefix}:outcome:${jobId}`;
  }

  /** Capacity reservations: sandbox id -> `<vcpus>|<memoryMib>|<jobId>|<at ms>`. */
  reservations(): string {
    return `${this.prefix}:reservations`;
  }

  /** The sums of the reservations (vcpus, memoryMib, slots), kept with them in one script. */
  reserved(): string {
    return `${this.prefix}:reserved`;
  }

  /** The heartbeat; expires when the host stops beating. */
  heartbeat(): string {
    return `${this.prefix}:heartbeat`;
  }

  /** The token of the one worker that holds this host id. */
  lease(): string {
    return `${this.prefix}:lease`;
  }

  /** Set while the host is marked lost; its next heartbeat clears it and republishes its sandboxes. */
  lost(): string {
    return `${this.prefix}:lost`;
  }

  /**
   * Events written in the same script as the change they tell of, waiting to be forwarded
   * to the fleet's stream (a list of `<number>|<event json>`).
   */
  outbox(): string {
    return `${this.prefix}:outbox`;
  }

  /** The last number given to an outbox entry. */
  outboxNumber(): string {
    return `${this.prefix}:outbox-n`;
  }

  /** BullMQ's key of a job on this host's queue (our scripts check whether the job still exists). */
  bullJob(jobId: string): string {
    return `${this.prefix}:${hostQueueName(this.hostId)}:${jobId}`;
  }

  /** The prefix of this host's queue's job keys, for scripts that check a job by id. */
  bullJobPrefix(): string {
    return `${this.prefix}:${hostQueueName(this.hostId)}:`;
  }

  /** A declared key for scripts whose call has no idempotency key. */
  placeholder(): string {
    return `${this.prefix}:placeholder`;
  }
}
