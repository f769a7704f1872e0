import type { Redis } from 'ioredis';
import { z } from 'zod';
import { CorruptStateError } from '../errors/index.ts';
import { DEFAULT_STREAM_LENGTH } from '../events/event-publisher.ts';
import { HangarEvent } from '../events/event-schemas.ts';
import type { KeySpace } from '../queues/names.ts';
import { JobOutcome } from './record-schemas.ts';
import { RedisScript } from './scripts/run-script.ts';
import { ENQUEUE_LUA, FINISH_LUA, GATE_LUA, SKIP_LUA } from './scripts/sequence-scripts.ts';

/** Where a job went, with its place in its sandbox's order: enough to find its outcome again. */
export const JobRef = z.object({
  jobId: z.string(),
  hostId: z.string(),
  sandboxId: z.string(),
  op: z.string(),
  seq: z.number().int().positive(),
});
export type JobRef = z.infer<typeof JobRef>;

/** What the enqueue step answered. */
export type EnqueueAnswer =
  | { kind: 'ok'; ref: JobRef }
  | { kind: 'duplicate'; ref: JobRef; jobExists: boolean }
  | { kind: 'exists' }
  | { kind: 'no-capacity'; free: { hostId: string; vcpus: number; memoryMib: number; slots: number }[] }
  | { kind: 'not-found'; what: string }
  | { kind: 'illegal-state'; state: string }
  | { kind: 'host-lost'; hostId: string }
  | { kind: 'corrupt'; key: string };

/** Where a job goes: the sandbox's own host, a host chosen for a create, or a snapshot's host. */
export type Placement =
  | { kind: 'sandbox' }
  | { kind: 'create'; template: string; vcpus: number; memoryMib: number }
  | { kind: 'snapshot'; snapshotId: string }
  /** A number on a given host with no checks (batch children, whose sandboxes were checked). */
  | { kind: 'host'; hostId: string };

/** Whether a job may run now, per its sandbox's order. */
export type GateAnswer =
  | { kind: 'run' }
  | { kind: 'finished' }
  | { kind: 'wait'; predecessor: string }
  | { kind: 'orphan'; predecessor: string; predecessorSeq: number };

/** How long a taken number may wait for its job to be added before it is skipped. */
export const ADD_GRACE_MS = 10_000;

const enqueueScript = new RedisScript(ENQUEUE_LUA);
const skipScript = new RedisScript(SKIP_LUA);
const gateScript = new RedisScript(GATE_LUA);
const finishScript = new RedisScript(FINISH_LUA);

/**
 * Each sandbox's jobs in one order: a number taken atomically with the idempotency key and
 * the capacity reservation, a gate that holds a job while its predecessor can still run,
 * and one step that ends a job (outcome, number, event, reservation) so no kill can fall
 * between them.
 */
export class JobSequences {
  readonly #redis: Redis;
  readonly #keys: KeySpace;

  constructor(redis: Redis, keys: KeySpace) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /**
   * In one step: the idempotency key (if any), where the job goes (and, for a create or
   * restore, the capacity reserved there), and the sandbox's next number.
   */
  async enqueue(input: {
    op: string;
    sandboxId: string;
    jobSuffix: string;
    idempotencyKey?: string;
    idempotencyTtlSeconds: number;
    placement: Placement;
  }): Promise<EnqueueAnswer> {
    const k = this.#keys;
    const placement = input.placement;
    const keys = [
      input.idempotencyKey === undefined ? k.placeholder() : k.idempotency(input.idempotencyKey),
      k.sequence(input.sandboxId),
      k.sequenceJobs(input.sandboxId),
      k.sandbox(input.sandboxId),
    ];
    const args = [
      input.op,
      input.sandboxId,
      input.jobSuffix,
      input.idempotencyKey === undefined ? 0 : input.idempotencyTtlSeconds,
      `${k.prefix}:`,
      placement.kind,
      placement.kind === 'create'
        ? placement.template
        : placement.kind === 'snapshot'
          ? placement.snapshotId
          : placement.kind === 'host'
            ? placement.hostId
            : '',
      placement.kind === 'create' ? placement.vcpus : 0,
      placement.kind === 'create' ? placement.memoryMib : 0,
    ];
    const answer = (await enqueueScript.run(this.#redis, keys, args)) as [string, string?, number?];
    const idemKey = k.idempotency(input.idempotencyKey ?? '');
    switch (answer[0]) {
      case 'ok':
        return { kind: 'ok', ref: parseRef(answer[1]!, idemKey) };
      case 'dup':
        return { kind: 'duplicate', ref: parseRef(answer[1]!, idemKey), jobExists: answer[2] === 1 };
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

  /** After a failed add: unless the job exists after all, nobody waits for its number. */
  async skip(ref: JobRef, idempotencyKey?: string): Promise<void> {
    const k = this.#keys;
    await skipScript.run(
      this.#redis,
      [
        k.bullJob(ref.hostId, ref.jobId),
        k.finishedSequence(ref.sandboxId),
        k.finishedAbove(ref.sandboxId),
        k.sequenceJobs(ref.sandboxId),
        k.reservations(ref.hostId),
        k.reserved(ref.hostId),
        idempotencyKey === undefined ? k.placeholder() : k.idempotency(idempotencyKey),
      ],
      [ref.seq, ref.sandboxId, ref.jobId],
    );
  }

  /** Whether job `seq` of a sandbox on `hostId`'s queue may run now. */
  async gate(hostId: string, sandboxId: string, seq: number, graceMs = ADD_GRACE_MS): Promise<GateAnswer> {
    const k = this.#keys;
    const answer = (await gateScript.run(
      this.#redis,
      [k.finishedSequence(sandboxId), k.finishedAbove(sandboxId), k.sequenceJobs(sandboxId)],
      [seq, `${k.prefix}:host-${hostId}:`, graceMs],
    )) as [string, string?, number?];
    if (answer[0] === 'run' || answer[0] === 'finished') return { kind: answer[0] };
    if (answer[0] === 'orphan')
      return { kind: 'orphan', predecessor: answer[1]!, predecessorSeq: Number(answer[2]) };
    return { kind: 'wait', predecessor: answer[1] ?? '' };
  }

  /** The number up to which every job of a sandbox has finished. */
  async watermark(sandboxId: string): Promise<number> {
    return Number((await this.#redis.get(this.#keys.finishedSequence(sandboxId))) ?? 0);
  }

  /**
   * Ends a job in one step: outcome, number finished, event published, and the sandbox's
   * reservation released when `release`. Returns the successor's job id, if one is queued.
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
  }): Promise<string | undefined> {
    const k = this.#keys;
    const outcome = JSON.stringify(JobOutcome.parse(input.outcome));
    const event = JSON.stringify(HangarEvent.parse(input.event));
    const [, next] = (await finishScript.run(
      this.#redis,
      [
        k.jobOutcome(input.jobId),
        k.finishedSequence(input.sandboxId),
        k.finishedAbove(input.sandboxId),
        k.sequenceJobs(input.sandboxId),
        k.eventStream(),
        k.reservations(input.hostId),
        k.reserved(input.hostId),
        k.sequence(input.sandboxId),
        k.sandbox(input.sandboxId),
      ],
      [
        outcome,
        input.outcomeTtlSeconds,
        input.seq,
        event,
        k.fleetChannel(),
        input.replyTo === undefined ? '' : k.replyChannel(input.replyTo),
        DEFAULT_STREAM_LENGTH,
        input.release ? input.sandboxId : '',
        input.retentionSeconds,
      ],
    )) as [string, string | null];
    return next ?? undefined;
  }
}

function parseRef(value: string, key: string): JobRef {
  const parsed = JobRef.safeParse(JSON.parse(value));
  if (!parsed.success) throw new CorruptStateError(key, parsed.error);
  return parsed.data;
}
