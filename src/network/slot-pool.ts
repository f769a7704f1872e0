// A few network slots built ahead of demand, so a create waits for a claim transfer, not
// for a namespace, veth pair and nftables rules (the E2B slot pool). Pool slots are claimed
// under the reserved owner `pool:<name>`, so after a restart the pool finds and adopts its
// own slots instead of leaking them, and a handed-out slot is an ordinary owner's claim.
import { setTimeout as sleep } from 'node:timers/promises';
import { IllegalStateError, ValidationError } from '../errors/index.ts';
import type { CommandRunner } from '../exec/command-runner.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import { pollUntil } from '../util/poll.ts';
import { ensureNetwork } from './ensure-network.ts';
import type { NetworkConfig } from './network-config.ts';
import { removeNetwork } from './remove-network.ts';
import { poolOwner, type SlotClaims } from './slot-claims.ts';
import { type SlotLayout, slotLayout } from './slot-layout.ts';

/** Options for SlotPool. */
export interface SlotPoolOptions {
  claims: SlotClaims;
  config: NetworkConfig;
  /** Slots kept claimed and built ahead of demand. */
  size: number;
  /** Pool name; its claims are held by `pool:<name>`. Default 'default'. */
  name?: string;
  /** Builds running at once while refilling; default 2. */
  concurrency?: number;
  /** Wait before retrying a failed build or a full host; default 1000 ms. */
  retryDelayMs?: number;
  logger?: Logger;
  runner?: CommandRunner;
}

/** Counters for dashboards and the bench. */
export interface SlotPoolStats {
  /** Built and ready to hand out. */
  warm: number;
  /** Being built right now. */
  building: number;
  /** Claimed by the pool but not built yet (adopted, or waiting to retry a failed build). */
  pending: number;
  warmTakes: number;
  coldTakes: number;
}

/** Keeps `size` network slots claimed and built; hands them out on take, refills behind. */
export class SlotPool {
  readonly owner: string;
  readonly #claims: SlotClaims;
  readonly #config: NetworkConfig;
  readonly #size: number;
  readonly #concurrency: number;
  readonly #retryDelayMs: number;
  readonly #logger: Logger;
  readonly #networkOptions: { runner?: CommandRunner; logger: Logger };
  readonly #warm: number[] = [];
  readonly #pending: number[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #running = false;
  #retryAt = 0;
  #retryTimer: AbortController | undefined;
  #warmTakes = 0;
  #coldTakes = 0;
  // Why the last background build failed, until one succeeds: the cause of a waitUntilWarm timeout.
  #lastError: unknown;

  constructor(options: SlotPoolOptions) {
    for (const [field, value, min] of [
      ['size', options.size, 0],
      ['concurrency', options.concurrency ?? 2, 1],
    ] as const) {
      if (!Number.isInteger(value) || value < min) {
        throw new ValidationError(`invalid slot pool ${field} ${value}: must be an integer >= ${min}`, {
          field,
          value,
        });
      }
    }
    this.#claims = options.claims;
    this.#config = options.config;
    this.#size = options.size;
    this.#concurrency = options.concurrency ?? 2;
    this.#retryDelayMs = options.retryDelayMs ?? 1000;
    this.owner = poolOwner(options.name);
    this.#logger = (options.logger ?? silentLogger).child({ component: 'slot-pool', pool: this.owner });
    this.#networkOptions = options.runner
      ? { runner: options.runner, logger: this.#logger }
      : { logger: this.#logger };
  }

  /** Adopts slots the pool still holds from before a restart, then fills to `size` in the background. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const known = new Set([...this.#warm, ...this.#pending]);
    const held = [...(await this.#claims.list())]
      .filter(([slot, record]) => record.owner === this.owner && !known.has(slot))
      .map(([slot]) => slot);
    // ensureNetwork converges whatever state an adopted slot was left in.
    const room = Math.max(0, this.#size - known.size);
    const adopted = held.slice(0, room);
    const extra = held.slice(room);
    if (held.length > 0)
      this.#logger.info({ adopted, extra }, 'adopting pool slots left from a previous run');
    this.#pending.push(...adopted);
    // A restart with a smaller pool leaves more slots than it keeps: give the extras back.
    for (const slot of extra) this.#track(this.#teardown(slot, this.owner));
    this.#refill();
  }

  /** A built slot for `owner`: a warm one at once when there is one, else built on the spot. */
  async take(owner: string): Promise<SlotLayout> {
    const warm = this.#warm.shift();
    if (warm !== undefined) {
      try {
        await this.#claims.transfer(warm, this.owner, owner);
      } catch (error) {
        // The slot stays the pool's: keep it for a later take, unless its claim is gone.
        if ((await this.#claims.ownerOf(warm).catch(() => undefined)) === this.owner)
          this.#warm.unshift(warm);
        throw error;
      }
      this.#warmTakes++;
      this.#refill();
      return slotLayout(warm, this.#config);
    }
    const slot = await this.#claims.claim(owner);
    this.#refill();
    try {
      const layout = await ensureNetwork(slot, this.#config, this.#networkOptions);
      this.#coldTakes++;
      return layout;
    } catch (error) {
      await this.#teardown(slot, owner, true);
      throw error;
    }
  }

  /** Removes a handed-out slot's network and frees its claim; refuses a slot `owner` does not hold. */
  async release(slot: number, owner: string): Promise<void> {
    const holder = await this.#claims.ownerOf(slot);
    if (holder === undefined) return;
    if (holder !== owner) {
      throw new IllegalStateError(`cannot release slot ${slot}: held by ${holder}`, { slot, owner, holder });
    }
    await removeNetwork(slot, this.#config, this.#networkOptions);
    await this.#claims.release(slot, owner);
  }

  /** Stops refilling and waits for builds in flight; warm slots stay claimed and built. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#retryTimer?.abort();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Stops, then removes the network and claim of every slot the pool holds (not handed-out ones). */
  async drain(): Promise<void> {
    await this.stop();
    this.#warm.length = 0;
    this.#pending.length = 0;
    for (const [slot, record] of await this.#claims.list()) {
      if (record.owner === this.owner) await this.#teardown(slot, this.owner, true);
    }
  }

  /** Resolves once `size` slots are warm; TimeoutError (cause: the last build failure) after `timeoutMs`. */
  async waitUntilWarm(timeoutMs = 30_000): Promise<void> {
    await pollUntil(
      `slot pool ${this.owner} to hold ${this.#size} warm slots`,
      async () => {
        if (this.#warm.length >= this.#size) return true;
        if (this.#lastError !== undefined) throw this.#lastError;
        return undefined;
      },
      { timeoutMs, intervalMs: 10 },
    );
  }

  /** Current counts and take totals. */
  stats(): SlotPoolStats {
    return {
      warm: this.#warm.length,
      building: this.#inFlight.size,
      pending: this.#pending.length,
      warmTakes: this.#warmTakes,
      coldTakes: this.#coldTakes,
    };
  }

  // Starts builds until the pool holds `size` slots or `concurrency` builds are running.
  // Never throws: every failure is logged and retried after retryDelayMs.
  #refill(): void {
    while (this.#running && this.#inFlight.size < this.#concurrency) {
      if (Date.now() < this.#retryAt) {
        this.#scheduleRetry();
        return;
      }
      const pending = this.#pending.shift();
      if (pending !== undefined) this.#track(this.#build(pending));
      else if (this.#warm.length + this.#inFlight.size < this.#size) this.#track(this.#claimAndBuild());
      else return;
    }
  }

  // Runs pool work in the background: counted as in flight, awaited by stop(), never unhandled.
  #track(work: Promise<void>): void {
    const tracked = work
      .catch((error: unknown) => {
        this.#logger.error({ err: error }, 'slot pool refill failed; retrying later');
        this.#lastError = error;
        this.#retryAt = Date.now() + this.#retryDelayMs;
      })
      .finally(() => {
        this.#inFlight.delete(tracked);
        this.#refill();
      });
    this.#inFlight.add(tracked);
  }

  async #claimAndBuild(): Promise<void> {
    await this.#build(await this.#claims.claim(this.owner));
  }

  async #build(slot: number): Promise<void> {
    try {
      await ensureNetwork(slot, this.#config, this.#networkOptions);
    } catch (error) {
      // Still the pool's claim: retried after the delay, and adopted by the next start if we stop.
      this.#pending.push(slot);
      throw error;
    }
    this.#warm.push(slot);
    this.#lastError = undefined;
    this.#logger.debug({ slot, warm: this.#warm.length }, 'pool slot ready');
  }

  #scheduleRetry(): void {
    if (this.#retryTimer) return;
    const timer = new AbortController();
    this.#retryTimer = timer;
    sleep(Math.max(0, this.#retryAt - Date.now()), undefined, { signal: timer.signal }).then(
      () => {
        this.#retryTimer = undefined;
        this.#refill();
      },
      () => {
        this.#retryTimer = undefined;
      },
    );
  }

  // Removes a slot's network and claim; with `quiet`, failures are logged, not thrown.
  async #teardown(slot: number, owner: string, quiet = false): Promise<void> {
    try {
      await removeNetwork(slot, this.#config, this.#networkOptions);
      await this.#claims.release(slot, owner);
    } catch (error) {
      if (!quiet) throw error;
      this.#logger.error({ err: error, slot }, 'could not remove a pool slot; it stays claimed');
    }
  }
}
