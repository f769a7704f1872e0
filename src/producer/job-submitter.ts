import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { ConflictError, CorruptStateError, IllegalStateError, NotFoundError } from '../errors/index.ts';
import type { Logger } from '../logging/logger.ts';
import { DEFAULT_JOB_OPTIONS } from '../queues/job-options.ts';
import type { JobData, JobPayload } from '../queues/job-schemas.ts';
import { hostPrefix, hostQueueName } from '../queues/names.ts';
import type { JobKey } from '../signing/job-key.ts';
import { queueAddress, signJobData } from '../signing/job-signature.ts';
import { type FleetStore, OUTCOME_TTL_SECONDS } from '../state/fleet-store.ts';
import type { HostRoom, JobRef, Placement, Refusal } from '../state/job-sequences.ts';
import type { Tracing } from '../tracing/start-tracing.ts';
import { HostLostError, NoCapacityError } from './producer-errors.ts';

/** How many hosts a create tries when the first ones it is placed on turn out full. */
const PLACEMENT_TRIES = 3;

/** A job's place in its sandbox's order and the data it is added with. */
export interface SequencedJob {
  ref: JobRef;
  data: JobData;
}

/**
 * Puts jobs on their host's queue with as few round trips as the job allows. A job on an
 * existing sandbox: the sandbox's host (from the directory, cached), then one script on
 * that host's slot (idempotency, state and host checks, the sandbox's next number), then
 * BullMQ's add. A create or restore: one script on the fleet's slot places it (idempotency,
 * the id, the host), one on the host's slot reserves its capacity and takes number 1, then
 * the add; a host that refuses (full since its last heartbeat) hands the create on to the
 * next. A step that fails gives back what the steps before it took.
 */
export class JobSubmitter {
  readonly #store: FleetStore;
  readonly #keyPrefix: string;
  readonly #clientId: string;
  readonly #log: Logger;
  readonly #tracing: Tracing | undefined;
  readonly #jobKey: JobKey | undefined;
  readonly #queues = new Map<string, Queue>();

  constructor(
    store: FleetStore,
    keyPrefix: string,
    clientId: string,
    log: Logger,
    options: { tracing?: Tracing | undefined; jobKey?: JobKey | undefined } = {},
  ) {
    this.#store = store;
    this.#keyPrefix = keyPrefix;
    this.#clientId = clientId;
    this.#log = log;
    this.#tracing = options.tracing;
    this.#jobKey = options.jobKey;
  }

  /** Enqueues a job on an existing sandbox (pause, resume, snapshot, destroy). */
  async onSandbox(payload: JobPayload, idempotencyKey?: string): Promise<JobRef> {
    const directory = this.#store.directory;
    for (let tries = 0; ; tries += 1) {
      const hostId = await directory.hostOf(payload.sandboxId);
      if (hostId === undefined)
        throw new NotFoundError(`no sandbox ${payload.sandboxId}`, { sandboxId: payload.sandboxId });
      const answer = await this.#enqueue(hostId, payload, idempotencyKey, 'sandbox');
      if (answer.kind === 'ok') {
        await this.#add(answer.ref, payload, idempotencyKey);
        return answer.ref;
      }
      if (answer.kind === 'duplicate') {
        if (!answer.jobExists) await this.#addIfNoOutcome(answer.ref, payload, idempotencyKey);
        return answer.ref;
      }
      // A cached host whose record is gone: the id may have been reused elsewhere; ask once more.
      if (answer.kind === 'not-found' && tries === 0) {
        directory.forget(payload.sandboxId);
        continue;
      }
      throw refusalError(payload, answer);
    }
  }

  /** Enqueues a create or restore: placed on the fleet's slot, reserved on the host's. */
  async placed(payload: JobPayload, placement: Placement, idempotencyKey?: string): Promise<JobRef> {
    const sequences = this.#store.sequences;
    const exclude: string[] = [];
    const refused: HostRoom[] = [];
    for (let tries = 0; ; tries += 1) {
      const placed = await sequences.place({
        op: payload.op,
        sandboxId: payload.sandboxId,
        jobSuffix: suffix(),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
        idempotencyTtlSeconds: OUTCOME_TTL_SECONDS,
        placement,
        exclude,
      });
      if (placed.kind === 'duplicate') {
        await this.#resumeDuplicate(placed.ref, payload, placement, idempotencyKey);
        return placed.ref;
      }
      if (placed.kind === 'no-capacity') {
        throw refusalError(payload, { kind: 'no-capacity', free: [...refused, ...placed.free] }, placement);
      }
      if (placed.kind !== 'ok') throw refusalError(payload, placed, placement);
      const { ref } = placed;
      const taken = { vcpus: placed.vcpus, memoryMib: placed.memoryMib };
      const answer = await sequences
        .enqueue({
          op: payload.op,
          sandboxId: payload.sandboxId,
          hostId: ref.hostId,
          jobSuffix: '',
          idempotencyTtlSeconds: OUTCOME_TTL_SECONDS,
          mode: { kind: 'placed', jobId: ref.jobId, ...taken },
        })
        .catch(async (error: unknown) => {
          await this.#unplace(ref, taken, idempotencyKey);
          throw error;
        });
      if (answer.kind === 'ok') {
        this.#store.directory.remember(ref.sandboxId, ref.hostId);
        await this.#add(ref, payload, idempotencyKey, taken);
        return ref;
      }
      await this.#unplace(ref, taken, idempotencyKey);
      if (answer.kind === 'no-capacity') refused.push(...answer.free);
      const retry =
        placement.kind === 'create' &&
        (answer.kind === 'no-capacity' || answer.kind === 'host-lost') &&
        tries + 1 < PLACEMENT_TRIES;
      if (!retry) {
        const refusal = answer.kind === 'no-capacity' ? { kind: answer.kind, free: refused } : answer;
        throw refusalError(payload, refusal as Refusal, placement);
      }
      exclude.push(ref.hostId);
    }
  }

  /** Takes a job's number on a given host with no checks (a batch child; see prepareJob). */
  async numbered(hostId: string, payload: JobPayload): Promise<SequencedJob> {
    const answer = await this.#enqueue(hostId, payload, undefined, 'host');
    if (answer.kind !== 'ok') throw refusalError(payload, answer as Refusal);
    return { ref: answer.ref, data: this.dataOf(answer.ref, payload) };
  }

  /**
   * Enqueues a job on a given host in its sandbox's order, with no checks of the sandbox
   * (a snapshot's deletion: its sandbox may be long gone).
   */
  async onHost(hostId: string, payload: JobPayload, idempotencyKey?: string): Promise<JobRef> {
    const answer = await this.#enqueue(hostId, payload, idempotencyKey, 'host');
    if (answer.kind === 'duplicate') {
      if (!answer.jobExists) await this.#addIfNoOutcome(answer.ref, payload, idempotencyKey);
      return answer.ref;
    }
    if (answer.kind !== 'ok') throw refusalError(payload, answer);
    await this.#add(answer.ref, payload, idempotencyKey);
    return answer.ref;
  }

  /** Gives back a number whose job was never added, so nobody waits for it. */
  async abandon(ref: JobRef, idempotencyKey?: string): Promise<void> {
    await this.#store.sequences.skip(ref, idempotencyKey).catch((error: unknown) => {
      this.#log.warn({ err: error, jobId: ref.jobId }, 'could not give back a sequence number');
    });
  }

  /** The data a job is added with, signed for its id and host queue when the client has a job key. */
  dataOf(ref: JobRef, payload: JobPayload, idempotencyKey?: string): JobData {
    const data: JobData = {
      payload,
      seq: ref.seq,
      requestedAt: new Date().toISOString(),
      replyTo: this.#clientId,
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    };
    return this.signed(
      { hostId: ref.hostId, queue: hostQueueName(ref.hostId), jobId: ref.jobId, name: payload.op },
      data,
    );
  }

  /** Signs a job's data for its place (unchanged when the client has no job key). */
  signed<D extends Record<string, unknown>>(
    place: { hostId: string; queue: string; jobId: string; name: string },
    data: D,
  ): D {
    if (this.#jobKey === undefined) return data;
    const queue = queueAddress(hostPrefix(this.#keyPrefix, place.hostId), place.queue);
    return signJobData(this.#jobKey, { queue, jobId: place.jobId, name: place.name }, data);
  }

  /** The queue of a host (made once per client, on the host's slot). */
  queueFor(hostId: string): Queue {
    let queue = this.#queues.get(hostId);
    if (queue === undefined) {
      queue = new Queue(hostQueueName(hostId), {
        connection: this.#store.redis,
        prefix: hostPrefix(this.#keyPrefix, hostId),
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
        // The add's span context rides in the job's options to the worker that runs it.
        ...(this.#tracing === undefined ? {} : { telemetry: this.#tracing.telemetry }),
      });
      queue.on('error', (error) => this.#log.warn({ err: error, hostId }, 'queue error'));
      this.#queues.set(hostId, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
  }

  // A job's next number on its host's slot (see ENQUEUE_LUA's 'sandbox' and 'host' modes).
  #enqueue(
    hostId: string,
    payload: JobPayload,
    idempotencyKey: string | undefined,
    mode: 'sandbox' | 'host',
  ) {
    return this.#store.sequences.enqueue({
      op: payload.op,
      sandboxId: payload.sandboxId,
      hostId,
      jobSuffix: suffix(),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      idempotencyTtlSeconds: OUTCOME_TTL_SECONDS,
      mode: { kind: mode },
    });
  }

  // A repeated create: its first call may have died after placing it, before the host took
  // it or before the add. Take it on the host (a no-op when done) and add it, unless it ran.
  async #resumeDuplicate(ref: JobRef, payload: JobPayload, placement: Placement, key?: string) {
    const exists = (await this.queueFor(ref.hostId).getJobState(ref.jobId)) !== 'unknown';
    if (exists || (await this.#store.getOutcome(ref.hostId, ref.jobId)) !== undefined) return;
    const taken =
      placement.kind === 'create'
        ? { vcpus: placement.vcpus, memoryMib: placement.memoryMib }
        : await this.#snapshotSize(placement.snapshotId);
    const answer = await this.#store.sequences.enqueue({
      op: payload.op,
      sandboxId: payload.sandboxId,
      hostId: ref.hostId,
      jobSuffix: '',
      idempotencyTtlSeconds: OUTCOME_TTL_SECONDS,
      mode: { kind: 'placed', jobId: ref.jobId, ...taken },
    });
    if (answer.kind !== 'ok') throw refusalError(payload, answer as Refusal, placement);
    await this.#add(ref, payload, key, taken);
  }

  async #snapshotSize(snapshotId: string): Promise<{ vcpus: number; memoryMib: number }> {
    const snapshot = await this.#store.getSnapshot(snapshotId);
    if (snapshot === undefined) throw new NotFoundError(`no snapshot ${snapshotId}`, { snapshotId });
    return { vcpus: snapshot.vcpus, memoryMib: snapshot.memoryMib };
  }

  async #addIfNoOutcome(ref: JobRef, payload: JobPayload, key?: string): Promise<void> {
    if ((await this.#store.getOutcome(ref.hostId, ref.jobId)) === undefined)
      await this.#add(ref, payload, key);
  }

  async #add(
    ref: JobRef,
    payload: JobPayload,
    idempotencyKey: string | undefined,
    placedWith?: { vcpus: number; memoryMib: number },
  ): Promise<void> {
    try {
      await this.queueFor(ref.hostId).add(payload.op, this.dataOf(ref, payload, idempotencyKey), {
        jobId: ref.jobId,
      });
    } catch (error) {
      const hostKey = placedWith === undefined ? idempotencyKey : undefined;
      await this.abandon(ref, hostKey);
      if (placedWith !== undefined) await this.#unplace(ref, placedWith, idempotencyKey);
      throw error;
    }
    this.#log.debug({ ...ref }, 'job enqueued');
  }

  async #unplace(ref: JobRef, taken: { vcpus: number; memoryMib: number }, key?: string): Promise<void> {
    await this.#store.sequences.unplace(ref, taken, key).catch((error: unknown) => {
      this.#log.warn({ err: error, jobId: ref.jobId }, 'could not undo a placement');
    });
  }
}

function suffix(): string {
  return randomUUID().slice(0, 8);
}

/** The typed error a refusal becomes. */
export function refusalError(payload: JobPayload, answer: Refusal, placement?: Placement): Error {
  const sandboxId = payload.sandboxId;
  switch (answer.kind) {
    case 'exists':
      return new ConflictError(`sandbox id ${sandboxId} is taken: it was created before`, { sandboxId });
    case 'no-capacity': {
      const asked =
        placement?.kind === 'create'
          ? `${placement.vcpus} vCPU / ${placement.memoryMib} MiB`
          : `${payload.op} of ${sandboxId}`;
      const what = placement?.kind === 'create' ? ` with template ${placement.template}` : '';
      return new NoCapacityError(`no live host${what} has room for ${asked}: ${freeReport(answer.free)}`, {
        free: answer.free,
      });
    }
    case 'not-found':
      return new NotFoundError(`no ${answer.what}`, { sandboxId });
    case 'illegal-state':
      return new IllegalStateError(`cannot ${payload.op} sandbox ${sandboxId}: it is ${answer.state}`, {
        sandboxId,
        state: answer.state,
      });
    case 'host-lost':
      return new HostLostError(answer.hostId);
    case 'corrupt':
      return new CorruptStateError(answer.key);
  }
}

function freeReport(free: HostRoom[]): string {
  if (free.length === 0) return 'no live host';
  return free
    .map((host) => `${host.hostId} has ${host.vcpus} vCPU / ${host.memoryMib} MiB / ${host.slots} slots free`)
    .join('; ');
}
