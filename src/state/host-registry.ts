import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { KeySpace } from '../queues/names.ts';
import { ADD_GRACE_MS } from './job-sequences.ts';
import { HostHeartbeat } from './record-schemas.ts';
import {
  BEAT_LUA,
  LEASE_ACQUIRE_LUA,
  LEASE_RELEASE_LUA,
  MARK_LOST_LUA,
  RESYNC_RESERVATIONS_LUA,
} from './scripts/host-scripts.ts';
import { RedisScript } from './scripts/run-script.ts';

/** Who holds a host id: one worker process on one machine and state dir. */
export const HostLease = z.object({
  token: z.string(),
  /** `<machine>:<state dir>`: a new worker with the same holder (and the state dir's flock) replaces a dead one. */
  holder: z.string(),
  pid: z.number().int(),
  since: z.iso.datetime(),
});
export type HostLease = z.infer<typeof HostLease>;

/** What one heartbeat found. */
export interface BeatAnswer {
  /** The host had been marked lost: its sandboxes' records must be republished. */
  wasLost: boolean;
  /** Set when another worker holds the lease now. */
  heldBy?: HostLease;
}

/** A sandbox's claim on a host's capacity, as the ledger holds it. */
export interface HeldCapacity {
  sandboxId: string;
  vcpus: number;
  memoryMib: number;
}

const acquireScript = new RedisScript(LEASE_ACQUIRE_LUA);
const releaseScript = new RedisScript(LEASE_RELEASE_LUA);
const beatScript = new RedisScript(BEAT_LUA);
const markLostScript = new RedisScript(MARK_LOST_LUA);
const resyncScript = new RedisScript(RESYNC_RESERVATIONS_LUA);

/** Hosts in Redis: heartbeats, the one-worker lease, lost marks and capacity reservations. */
export class HostRegistry {
  readonly #redis: Redis;
  readonly #keys: KeySpace;
  readonly #onCorrupt: (key: string, error: unknown) => void;

  constructor(redis: Redis, keys: KeySpace, onCorrupt: (key: string, error: unknown) => void) {
    this.#redis = redis;
    this.#keys = keys;
    this.#onCorrupt = onCorrupt;
  }

  /** Takes the host's lease; returns the other holder when someone else has it. */
  async acquireLease(hostId: string, lease: HostLease, ttlMs: number): Promise<HostLease | undefined> {
    const current = await acquireScript.run(
      this.#redis,
      [this.#keys.hostLease(hostId)],
      [JSON.stringify(lease), lease.holder, ttlMs],
    );
    return current === null ? undefined : HostLease.parse(JSON.parse(String(current)));
  }

  async releaseLease(hostId: string, token: string): Promise<void> {
    await releaseScript.run(this.#redis, [this.#keys.hostLease(hostId)], [token]);
  }

  async leaseOf(hostId: string): Promise<HostLease | undefined> {
    const value = await this.#redis.get(this.#keys.hostLease(hostId));
    return value === null ? undefined : HostLease.parse(JSON.parse(value));
  }

  /** One heartbeat: beat, registry, last-seen, lease renewal and lost mark, in one step. */
  async beat(
    heartbeat: HostHeartbeat,
    ttlMs: number,
    lease: HostLease,
    leaseTtlMs: number,
  ): Promise<BeatAnswer> {
    const checked = HostHeartbeat.parse(heartbeat);
    const k = this.#keys;
    const [wasLost, held] = (await beatScript.run(
      this.#redis,
      [
        k.heartbeat(checked.hostId),
        k.hosts(),
        k.hostsSeen(),
        k.hostLost(checked.hostId),
        k.hostLease(checked.hostId),
      ],
      [JSON.stringify(checked), ttlMs, checked.hostId, lease.token, JSON.stringify(lease), leaseTtlMs],
    )) as [number, string];
    if (held !== 'held') return { wasLost: false, heldBy: HostLease.parse(JSON.parse(held)) };
    return { wasLost: wasLost === 1 };
  }

  /** Writes a heartbeat without a lease (tools and tests that stand in for a host). */
  async publishBeat(heartbeat: HostHeartbeat, ttlMs: number): Promise<void> {
    const checked = HostHeartbeat.parse(heartbeat);
    await this.#redis
      .multi()
      .set(this.#keys.heartbeat(checked.hostId), JSON.stringify(checked), 'PX', ttlMs)
      .sadd(this.#keys.hosts(), checked.hostId)
      .zadd(this.#keys.hostsSeen(), Date.now(), checked.hostId)
      .exec();
  }

  /** Whether a host's heartbeat is alive. */
  async isLive(hostId: string): Promise<boolean> {
    return (await this.#redis.exists(this.#keys.heartbeat(hostId))) === 1;
  }

  /** Hosts whose heartbeat is still alive (a corrupt beat is skipped and counted). */
  async liveHosts(): Promise<HostHeartbeat[]> {
    const ids = await this.#redis.smembers(this.#keys.hosts());
    if (ids.length === 0) return [];
    const values = await this.#redis.mget(ids.map((id) => this.#keys.heartbeat(id)));
    return values.flatMap((value, index) => {
      if (value === null) return [];
      const parsed = HostHeartbeat.safeParse(safeJson(value));
      if (parsed.success) return [parsed.data];
      this.#onCorrupt(this.#keys.heartbeat(ids[index]!), parsed.error);
      return [];
    });
  }

  /** Every host that ever registered, alive or not. */
  async knownHosts(): Promise<string[]> {
    return this.#redis.smembers(this.#keys.hosts());
  }

  /** Hosts last seen longer ago than `graceMs` (cheap: one range read of the last-seen index). */
  async silentSince(graceMs: number): Promise<string[]> {
    return this.#redis.zrangebyscore(this.#keys.hostsSeen(), '-inf', Date.now() - graceMs);
  }

  /**
   * Marks a host lost once (its beat gone and silent past the grace), its sandboxes'
   * records with it; returns their ids, undefined when the host is alive, within the
   * grace, or already marked.
   */
  async markLost(hostId: string, graceMs: number): Promise<string[] | undefined> {
    const k = this.#keys;
    const answer = await markLostScript.run(
      this.#redis,
      [k.heartbeat(hostId), k.hostsSeen(), k.hostLost(hostId), k.hostIndex(hostId)],
      [hostId, graceMs, new Date().toISOString(), `${k.prefix}:`],
    );
    return answer === null ? undefined : (answer as string[]);
  }

  /** Reconciles a host's reservations with what its ledger holds; returns what changed. */
  async resyncReservations(
    hostId: string,
    held: readonly HeldCapacity[],
  ): Promise<{ released: string[]; added: string[] }> {
    const k = this.#keys;
    const [released, added] = (await resyncScript.run(
      this.#redis,
      [k.reservations(hostId), k.reserved(hostId)],
      [
        `${k.prefix}:host-${hostId}:`,
        ADD_GRACE_MS,
        ...held.flatMap((h) => [h.sandboxId, h.vcpus, h.memoryMib]),
      ],
    )) as [string[], string[]];
    return { released, added };
  }

  /** A host's reservations by sandbox id, and their sums. */
  async reservations(hostId: string): Promise<{
    bySandbox: Record<string, { vcpus: number; memoryMib: number }>;
    vcpus: number;
    memoryMib: number;
    slots: number;
  }> {
    const [all, totals] = await Promise.all([
      this.#redis.hgetall(this.#keys.reservations(hostId)),
      this.#redis.hgetall(this.#keys.reserved(hostId)),
    ]);
    const bySandbox = Object.fromEntries(
      Object.entries(all).map(([id, value]) => {
        const [vcpus, memoryMib] = value.split('|');
        return [id, { vcpus: Number(vcpus), memoryMib: Number(memoryMib) }];
      }),
    );
    return {
      bySandbox,
      vcpus: Number(totals.vcpus ?? 0),
      memoryMib: Number(totals.memoryMib ?? 0),
      slots: Number(totals.slots ?? 0),
    };
  }
}

function safeJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
