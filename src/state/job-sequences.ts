import { z } from 'zod';
import { CorruptStateError } from '../errors/index.ts';
import { HangarEvent } from '../events/event-schemas.ts';
import type { KeySpace } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import { JobOutcome, SandboxRecord } from './record-schemas.ts';
import { RedisScript } from './scripts/run-script.ts';
import {
  ENQUEUE_LUA,
  FINISH_LUA,
  GATE_LUA,
  PLACE_LUA,
  SKIP_LUA,
  UNPLACE_LUA,
} from './scripts/sequence-scripts.ts';

/** Where a job went, with its place in its sandbox's order: enough to find its outcome again. */
export const JobRef = z.object({
  jobId: z.string(),
  hostId: z.string(),
  sandboxId: z.string(),
  op: z.string(),
  seq: z.number().int().positive(),
});
export type JobRef = z.infer<typeof JobRef>;

/** Free capacity of one host, as a refusal reports it. */
export interface HostRoom {
  hostId: string;
  vcpus: number;
  memoryMib: number;
  slots: number;
}

/** Refusals, shared by placement and enqueue. */
export type Refusal =
  | { kind: 'exists' }
  | { kind: 'no-capacity'; free: HostRoom[] }
  | { kind: 'not-found'; what: string }
  | { kind: 'illegal-state'; state: string }
  | { kind: 'host-lost'; hostId: string }
  | { kind: 'corrupt'; key: string };

/** What the enqueue step answered. */
export type EnqueueAnswer =
  | { kind: 'ok'; ref: JobRef }
  | { kind: 'duplicate'; ref: JobRef; jobExists: boolean }
  | Refusal;

/** What placement answered: the host and the capacity it took there. */
export type PlaceAnswer =
  | { kind: 'ok'; ref: JobRef; vcpus: number; memoryMib: number }
  | { kind: 'duplicate'; ref: JobRef }
  | Refusal;

/** Where a create or restore goes: the best host for a template, or a snapshot's host. */
export type Placement =
  | { kind: 'create'; template: string; vcpus: number; memoryMib: number }
  /** A restore: on the snapshot's host, or on `hostId` (a move: it fetches the snapshot first). */
  | { kind: 'snapshot'; snapshotId: string; hostId?: string };

/** How a job takes its number on a host: see ENQUEUE_LUA. */
export type EnqueueMode =
  | { kind: 'sandbox' }
  | { kind: 'placed'; jobId: string; vcpus: number; memoryMib: number }
  | { kind: 'host' };

/** Whether a job may run now, per its sandbox's order. */
export type GateAnswer =
  | { kind: 'run' }
  | { kind: 'finished' }
  | { kind: 'wait'; predecessor: string }
  | { kind: 'orphan'; predecessor: string; predecessorSeq: number };

/** How long a taken number may wait for its job to be added before it is skipped. */
export const ADD_GRACE_MS = 10_000;

const placeScript = new RedisScript(PLACE_LUA);
const unplaceScript = new RedisScript(UNPLACE_LUA);
const enqueueScript = new RedisScript(ENQUEUE_LUA);
const skipScript = new RedisScript(SKIP_LUA);
const gateScript = new RedisScript(GATE_LUA);
const finishScript = new RedisScript(FINISH_LUA);

/**
 * Each sandbox's jobs in one order: a number taken atomically with the idempotency key and
 * the capacity reservation, a gate that holds a job while its predecessor can still run,
 * and one step that ends a job (record, outcome, number, event, reservation) so no kill can
 * fall between them. Everything but placement runs on the sandbox's host's slot.
 */
export class JobSequences {
  readonly #redis: RedisClient;
  readonly #keys: KeySpace;

  constructor(redis: RedisClient, keys: KeySpace) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /**
   * Places a create or restore on the fleet's slot: idempotency, the sandbox id, the host
   * and its capacity (from the placement figures). `exclude` skips hosts that refused it.
   */
  async place(input: {
    op: string;
    sandboxId: string;
    jobSuffix: string;
    idempotencyKey?: string;
    idempotencyTtlSeconds: number;
    placement: Placement;
    exclude?: readonly string[];
  }): Promise<PlaceAnswer> {
    const f = this.#keys.fleet;
    const p = input.placement;
    const keys = [
      input.idempotencyKey === undefined ? f.placeholder() : f.idempotency(input.idempotencyKey),
      f.where(input.sandboxId),
      f.hostFree(),
      p.kind === 'create' ? f.placement(p.template) : f.snapshot(p.snapshotId),
    ];
    const args = [
      input.op,
      input.sandboxId,
      input.jobSuffix,
      input.idempotencyKey === undefined ? 0 : input.idempotencyTtlSeconds,
      p.kind,
      p.kind === 'create' ? p.vcpus : 0,
      p.kind === 'create' ? p.memoryMib : 0,
      p.kind === 'create' ? p.template : '',
      (input.exclude ?? []).join(','),
      `${f.prefix}:`,
      p.kind === 'snapshot' ? (p.hostId ?? '') : '',
    ];
    const answer = (await placeScript.run(this.#redis, keys, args)) as [string, string?, number?, number?];
    const idemKey = f.idempotency(input.idempotencyKey ?? '');
    if (answer[0] === 'ok') {
      return {
        kind: 'ok',
        ref: parseRef(answer[1]!, idemKey),
        vcpus: Number(answer[2]),
        memoryMib: Number(answer[3]),
      };
    }
    if (answer[0] === 'dup') return { kind: 'duplicate', ref: parseRef(answer[1]!, idemKey) };
    if (answer[0] === 'notfound')
      return { kind: 'not-found', what: `snapshot ${keys[3]!.split(':').at(-1)}` };
    return refusalOf(answer);
  }

  /** Undoes a placement that its host refused or whose job was never added. */
  async unplace(ref: JobRef, taken: { vcpus: number; memoryMib: number }, idempotencyKey?: string) {
    const f = this.#keys.fleet;
    await unplaceScript.run(
      this.#redis,
      [
        f.where(ref.sandboxId),
        idempotencyKey === undefined ? f.placeholder() : f.idempotency(idempotencyKey),
        f.hostFree(),
      ],
      [ref.hostId, ref.jobId, taken.vcpus, taken.memoryMib, `${f.prefix}:`],
    );
  }

  /**
   * Takes a job's number on `hostId`'s slot, in one step: see ENQUEUE_LUA for what each
   * mode checks and reserves.
   */
  async enqueue(input: {
    op: string;
    sandboxId: string;
    hostId: string;
    jobSuffix: string;
    idempotencyKey?: string;
    idempotencyTtlSeconds: number;
    mode: EnqueueMode;
  }): Promise<EnqueueAnswer> {
    const h = this.#keys.host(input.hostId);
    const mode = input.mode;
    const keys = [
      input.idempotencyKey === undefined ? h.placeholder() : h.idempotency(input.idempotencyKey),
      h.sequence(input.sandboxId),
      h.sequenceJobs(input.sandboxId),
      h.sandbox(input.sandboxId),
      h.heartbeat(),
      h.reservations(),
      h.reserved(),
    ];
    const args = [
      input.op,
      input.sandboxId,
      input.jobSuffix,
      input.idempotencyKey === undefined ? 0 : input.idempotencyTtlSeconds,
      mode.kind,
      mode.kind === 'placed' ? mode.jobId : '',
      mode.kind === 'placed' ? mode.vcpus : 0,
      mode.kind === 'placed' ? mode.memoryMib : 0,
      input.hostId,
      h.bullJobPrefix(),
    ];
    const answer = (await enqueueScript.run(this.#redis, keys, args)) as [string, string?, number?];
    const idemKey = h.idempotency(input.idempotencyKey ?? '');
    if (answer[0] === 'ok') return { kind: 'ok', ref: parseRef(answer[1]!, idemKey) };
    if (answer[0] === 'dup') {
      return { kind: 'duplicate', ref: parseRef(answer[1]!, idemKey), jobExists: answer[2] === 1 };
    }
    return refusalOf(answer);
  }

  /** After a failed add: unless the job exists after all, nobody waits for its number. */
  async skip(ref: JobRef, idempotencyKey?: string): Promise<void> {
    const h = this.#keys.host(ref.hostId);
    await skipScript.run(
      this.#redis,
      [
        h.bullJob(ref.jobId),
        h.finishedSequence(ref.sandboxId),
        h.finishedAbove(ref.sandboxId),
        h.sequenceJobs(ref.sandboxId),
        h.reservations(),
        h.reserved(),
        idempotencyKey === undefined ? h.placeholder() : h.idempotency(idempotencyKey),
        h.sequence(ref.sandboxId),
        h.sandbox(ref.sandboxId),
      ],
      [ref.seq, ref.sandboxId, ref.jobId],
    );
  }

  /** Whether job `seq` of a sandbox on `hostId`'s queue may run now. */
  async gate(hostId: string, sandboxId: string, seq: number, graceMs = ADD_GRACE_MS): Promise<GateAnswer> {
    const h = this.#keys.host(hostId);
    const answer = (await gateScript.run(
      this.#redis,
      [h.finishedSequence(sandboxId), h.finishedAbove(sandboxId), h.sequenceJobs(sandboxId)],
      [seq, h.bullJobPrefix(), graceMs],
    )) as [string, string?, number?];
    if (answer[0] === 'run' || answer[0] === 'finished') return { kind: answer[0] };
    if (answer[0] === 'orphan')
      return { kind: 'orphan', predecessor: answer[1]!, predecessorSeq: Number(answer[2]) };
    return { kind: 'wait', predecessor: answer[1] ?? '' };
  }

  /**
   * A sandbox's jobs that hold a number but have not finished (waiting, delayed or running),
   * in their order: each with the time its number was taken (ms).
   */
  async unfinished(
    hostId: string,
    sandboxId: string,
  ): Promise<{ seq: number; jobId: string; takenAtMs: number }[]> {
    const entries = await this.#redis.hgetall(this.#keys.host(hostId).sequenceJobs(sandboxId));
    return Object.entries(entries)
      .map(([seq, value]) => {
        const at = value.lastIndexOf('|');
        return { seq: Number(seq), jobId: value.slice(0, at), takenAtMs: Number(value.slice(at + 1)) };
      })
      .sort((a, b) => a.seq - b.seq);
  }

  /** The number up to which every job of a sandbox has finished. */
  async watermark(hostId: string, sandboxId: string): Promise<number> {
    return Number((await this.#redis.get(this.#keys.host(hostId).finishedSequence(sandboxId))) ?? 0);
  }

  /**
   * Ends a job in one step: the sandbox's record (with its state event) when given, the
   * outcome, the number finished, the job's event, and the sandbox's reservation released
   * when `release`. Returns the successor's job id, if one is queued, and the number up to
   * which every job of the sandbox has now finished.
   */
  async finish(input: {
    hostId: string;
    jobId: string;
    sandboxId: string;
    seq: number;
    outcome: JobOutcome;
    event: HangarEvent;
    release: boolean;
    outcomeTtlSeconds: number;
    /** How long the sandbox's record and sequence keys outlive a release. */
    retentionSeconds: number;
    /** The enqueuing client, whose own channel hears the outcome. */
    replyTo?: string;
    /** The sandbox's record as the job leaves it, with the event of its state change. */
    record?: { record: SandboxRecord; event: HangarEvent };
  }): Promise<{ next?: string; watermark: number }> {
    const h = this.#keys.host(input.hostId);
    const f = this.#keys.fleet;
    const outcome = JSON.stringify(JobOutcome.parse(input.outcome));
    const event = JSON.stringify(HangarEvent.parse(input.event));
    const [next, watermark] = (await finishScript.run(
      this.#redis,
      [
        h.jobOutcome(input.jobId),
        h.finishedSequence(input.sandboxId),
        h.finishedAbove(input.sandboxId),
        h.sequenceJobs(input.sandboxId),
        h.reservations(),
        h.reserved(),
        h.sequence(input.sandboxId),
        h.sandbox(input.sandboxId),
      ],
      [
        outcome,
        input.outcomeTtlSeconds,
        input.seq,
        event,
        f.fleetChannel(),
        input.replyTo === undefined ? '' : f.replyChannel(input.replyTo),
        input.release ? input.sandboxId : '',
        input.retentionSeconds,
        `${h.prefix}:`,
        f.sandboxChannel(input.sandboxId),
        input.record === undefined ? '' : JSON.stringify(SandboxRecord.parse(input.record.record)),
        input.record === undefined ? '' : JSON.stringify(HangarEvent.parse(input.record.event)),
      ],
    )) as [string | null, number];
    return { ...(next === null ? {} : { next }), watermark: Number(watermark) };
  }
}

function refusalOf(answer: [string, string?, ...unknown[]]): Refusal {
  switch (answer[0]) {
    case 'exists':
      return { kind: 'exists' };
    case 'nocap': {
      const free: unknown = JSON.parse(answer[1] ?? '[]');
      return { kind: 'no-capacity', free: Array.isArray(free) ? free : [] };
    }
    case 'notfound':
      return { kind: 'not-found', what: answer[1] ?? '' };
    case 'illegal':
      return { kind: 'illegal-state', state: answer[1] ?? '' };
    case 'lost':
      return { kind: 'host-lost', hostId: answer[1] ?? '' };
    default:
      return { kind: 'corrupt', key: answer[1] ?? '' };
  }
}

function parseRef(value: string, key: string): JobRef {
  const parsed = JobRef.safeParse(JSON.parse(value));
  if (!parsed.success) throw new CorruptStateError(key, parsed.error);
  return parsed.data;
}
