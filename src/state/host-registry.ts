import { z } from 'zod';
import type { KeySpace } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import { ADD_GRACE_MS } from './job-sequences.ts';
import { HostHeartbeat, type HostHeartbeatInput } from './record-schemas.ts';
import {
  BEAT_FLEET_LUA,
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

/** A registered host as an operator sees it: its heartbeat while it beats, when it last did, its lost mark. */
export interface HostStatus {
  hostId: string;
  /** Absent once the heartbeat has expired (or does not parse). */
  heartbeat?: HostHeartbeat;
  /** When its last heartbeat reached the fleet (ms since the epoch), if it ever did. */
  lastSeenMs?: number;
  /** Marked lost: silent past the grace, its sandboxes' records say `lost` until it beats again. */
  lost: boolean;
}

/** A sandbox's claim on a host's capacity, as the ledger holds it. */
export interface HeldCapacity {
  sandboxId: string;
  vcpus: number;
  memoryMib: number;
}

/** A host's free capacity as placement reads it. */
const HostFree = z.object({
  v: z.number(),
  m: z.number(),
  s: z.number(),
  /** When these figures go stale (ms): the heartbeat's own expiry. */
  exp: z.number(),
  t: z.array(z.string()),
});

const acquireScript = new RedisScript(LEASE_ACQUIRE_LUA);
const releaseScript = new RedisScript(LEASE_RELEASE_LUA);
const beatScript = new RedisScript(BEAT_LUA);
const beatFleetScript = new RedisScript(BEAT_FLEET_LUA);
const markLostScript = new RedisScript(MARK_LOST_LUA);
const resyncScript = new RedisScript(RESYNC_RESERVATIONS_LUA);

/**
 * Hosts in Redis: heartbeats, the one-worker lease, lost marks and capacity reservations
 * on each host's own slot; the registry, the last-seen index and the placement figures on
 * the fleet's.
 */
export class HostRegistry {
  readonly #redis: RedisClient;
  readonly #keys: KeySpace;
  readonly #onCorrupt: (key: string, error: unknown) => void;

  constructor(redis: RedisClient, keys: KeySpace, onCorrupt: (key: string, error: unknown) => void) {
    this.#redis = redis;
    this.#keys = keys;
    this.#onCorrupt = onCorrupt;
  }

  /** Takes the host's lease; returns the other holder when someone else has it. */
  async acquireLease(hostId: string, lease: HostLease, ttlMs: number): Promise<HostLease | undefined> {
    const current = await acquireScript.run(
      this.#redis,
      [this.#keys.host(hostId).lease()],
      [JSON.stringify(lease), lease.holder, ttlMs],
    );
    return current === null ? undefined : HostLease.parse(JSON.parse(String(current)));
  }

  async releaseLease(hostId: string, token: string): Promise<void> {
    await releaseScript.run(this.#redis, [this.#keys.host(hostId).lease()], [token]);
  }

  async leaseOf(hostId: string): Promise<HostLease | undefined> {
    const value = await this.#redis.get(this.#keys.host(hostId).lease());
    return value === null ? undefined : HostLease.parse(JSON.parse(value));
  }

  /**
   * One heartbeat: on the host's slot the beat, lease renewal and lost mark in one step;
   * then on the fleet's the registry, last-seen and placement figures (free = capacity less
   * reservations).
   */
  async beat(
    heartbeat: HostHeartbeatInput,
    ttlMs: number,
    lease: HostLease,
    leaseTtlMs: number,
  ): Promise<BeatAnswer> {
    const checked = HostHeartbeat.parse(heartbeat);
    const h = this.#keys.host(checked.hostId);
    const [wasLost, held, vcpus, memoryMib, slots] = (await beatScript.run(
      this.#redis,
      [h.heartbeat(), h.lost(), h.lease(), h.reserved()],
      [JSON.stringify(checked), ttlMs, lease.token, JSON.stringify(lease), leaseTtlMs],
    )) as [number, string, number, number, number];
    if (held !== 'held') return { wasLost: false, heldBy: HostLease.parse(JSON.parse(held)) };
    await this.#beatFleet(checked, ttlMs, { vcpus, memoryMib, slots });
    return { wasLost: wasLost === 1 };
  }

  /** Writes a heartbeat without a lease (tools and tests that stand in for a host). */
  async publishBeat(heartbeat: HostHeartbeatInput, ttlMs: number): Promise<void> {
    const checked = HostHeartbeat.parse(heartbeat);
    await this.#redis.set(this.#keys.host(checked.hostId).heartbeat(), JSON.stringify(checked), 'PX', ttlMs);
    await this.#beatFleet(checked, ttlMs, checked.used);
  }

  async #beatFleet(
    beat: HostHeartbeatInput & { pool?: HostHeartbeat['pool'] },
    ttlMs: number,
    reserved: { vcpus: number; memoryMib: number; slots: number },
  ): Promise<void> {
    const f = this.#keys.fleet;
    const free = {
      v: beat.capacity.vcpus - reserved.vcpus,
      m: beat.capacity.memoryMib - reserved.memoryMib,
      s: beat.capacity.slots - reserved.slots,
      exp: Date.now() + ttlMs,
      t: beat.templates,
    };
    const warm = Object.entries(beat.pool ?? {}).flatMap(([template, pool]) => [
      `${template}/${pool.vcpus}/${pool.memoryMib}`,
      pool.ready,
    ]);
    await beatFleetScript.run(
      this.#redis,
      [f.hosts(), f.hostsSeen(), f.hostFree()],
      [beat.hostId, JSON.stringify(free), `${f.prefix}:`, ...warm],
    );
  }

  /** Whether a host's heartbeat is alive. */
  async isLive(hostId: string): Promise<boolean> {
    return (await this.#redis.exists(this.#keys.host(hostId).heartbeat())) === 1;
  }

  /** A host's heartbeat, if it is alive (a corrupt one is skipped and counted). */
  async heartbeatOf(hostId: string): Promise<HostHeartbeat | undefined> {
    const key = this.#keys.host(hostId).heartbeat();
    const value = await this.#redis.get(key);
    if (value === null) return undefined;
    const parsed = HostHeartbeat.safeParse(safeJson(value));
    if (parsed.success) return parsed.data;
    this.#onCorrupt(key, parsed.error);
    return undefined;
  }

  /** Hosts whose heartbeat is still alive: one read per host, each on its own slot. */
  async liveHosts(): Promise<HostHeartbeat[]> {
    const ids = await this.knownHosts();
    const beats = await Promise.all(ids.map((id) => this.heartbeatOf(id)));
    return beats.filter((beat) => beat !== undefined);
  }

  /** Every host that ever registered, alive or not, in id order. */
  async knownHosts(): Promise<string[]> {
    return (await this.#redis.smembers(this.#keys.fleet.hosts())).sort();
  }

  /** Every host that ever registered, in id order, with its heartbeat, last beat and lost mark. */
  async statuses(): Promise<HostStatus[]> {
    const ids = await this.knownHosts();
    if (ids.length === 0) return [];
    const seen = await this.#redis.zmscore(this.#keys.fleet.hostsSeen(), ...ids);
    return Promise.all(
      ids.map(async (hostId, index) => {
        const [heartbeat, lost] = await Promise.all([
          this.heartbeatOf(hostId),
          this.#redis.exists(this.#keys.host(hostId).lost()),
        ]);
        const lastSeen = seen[index];
        return {
          hostId,
          ...(heartbeat === undefined ? {} : { heartbeat }),
          ...(lastSeen === null || lastSeen === undefined ? {} : { lastSeenMs: Number(lastSeen) }),
          lost: lost === 1,
        };
      }),
    );
  }

  /** A host's placement figures (free capacity), as the fleet's slot holds them. */
  async freeFigures(hostId: string): Promise<z.infer<typeof HostFree> | undefined> {
    const value = await this.#redis.hget(this.#keys.fleet.hostFree(), hostId);
    if (value === null) return undefined;
    const parsed = HostFree.safeParse(safeJson(value));
    return parsed.success ? parsed.data : undefined;
  }

  /** Hosts last seen longer ago than `graceMs` (cheap: one range read of the last-seen index). */
  async silentSince(graceMs: number): Promise<string[]> {
    return this.#redis.zrangebyscore(this.#keys.fleet.hostsSeen(), '-inf', Date.now() - graceMs);
  }

  /**
   * Marks a host lost once (its beat gone), its sandboxes' records with it, and drops it
   * from placement; returns their ids, undefined when the host is alive or already marked.
   * The caller picks hosts silent past the grace (silentSince).
   */
  async markLost(hostId: string): Promise<string[] | undefined> {
    const h = this.#keys.host(hostId);
    const answer = await markLostScript.run(
      this.#redis,
      [h.heartbeat(), h.lost(), h.liveIndex()],
      [new Date().toISOString(), `${h.prefix}:`],
    );
    if (answer === null) return undefined;
    await this.#redis.hdel(this.#keys.fleet.hostFree(), hostId);
    return answer as string[];
  }

  /** Reconciles a host's reservations with what its ledger holds; returns what changed. */
  async resyncReservations(
    hostId: string,
    held: readonly HeldCapacity[],
  ): Promise<{ released: string[]; added: string[] }> {
    const h = this.#keys.host(hostId);
    const [released, added] = (await resyncScript.run(
      this.#redis,
      [h.reservations(), h.reserved()],
      [h.bullJobPrefix(), ADD_GRACE_MS, ...held.flatMap((c) => [c.sandboxId, c.vcpus, c.memoryMib])],
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
    const h = this.#keys.host(hostId);
    const [all, totals] = await Promise.all([
      this.#redis.hgetall(h.reservations()),
      this.#redis.hgetall(h.reserved()),
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
