import type { KeySpace } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';

/** How many sandbox -> host answers a directory keeps in memory. */
const CACHE_SIZE = 50_000;

/**
 * Which host holds a sandbox: one key per sandbox on the fleet's slot, written at placement
 * in the same step that takes the id. A sandbox never moves, so an answer is cached (a
 * bounded map, oldest out first) and later calls on the sandbox go straight to its host's
 * slot.
 */
export class SandboxDirectory {
  readonly #redis: RedisClient;
  readonly #keys: KeySpace;
  readonly #cache = new Map<string, string>();

  constructor(redis: RedisClient, keys: KeySpace) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** The host of a sandbox, or undefined when the fleet does not know the id. */
  async hostOf(sandboxId: string): Promise<string | undefined> {
    const cached = this.#cache.get(sandboxId);
    if (cached !== undefined) return cached;
    const hostId = await this.#redis.get(this.#keys.fleet.where(sandboxId));
    if (hostId === null) return undefined;
    this.remember(sandboxId, hostId);
    return hostId;
  }

  /** Notes a sandbox's host (the caller just placed it, or read its record). */
  remember(sandboxId: string, hostId: string): void {
    if (this.#cache.size >= CACHE_SIZE) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(sandboxId, hostId);
  }

  /** Forgets a cached answer (the id turned out to be gone from that host). */
  forget(sandboxId: string): void {
    this.#cache.delete(sandboxId);
  }

  /** Lets a gone sandbox's entry expire with its record. */
  async expire(sandboxId: string, seconds: number): Promise<void> {
    this.#cache.delete(sandboxId);
    await this.#redis.expire(this.#keys.fleet.where(sandboxId), seconds);
  }

  /**
   * Writes an entry directly (a host republishing a sandbox the directory lost); with
   * `expireSeconds`, one for a gone sandbox, kept as long as its record.
   */
  async put(sandboxId: string, hostId: string, expireSeconds?: number): Promise<void> {
    const key = this.#keys.fleet.where(sandboxId);
    if (expireSeconds === undefined) await this.#redis.set(key, hostId);
    else await this.#redis.set(key, hostId, 'EX', expireSeconds);
    this.remember(sandboxId, hostId);
  }
}
