// Registered stand-in hosts: hosts with no worker behind them, made visible to placement
// by heartbeats written through FleetStore.beat (with their template and capacity) and
// kept alive for the run. Their beats stop while a block is measured (`quietly`), so the
// counters see only the real worker and the operation; the last-seen time is renewed just
// before each block, so the real worker's lost-host check never finds them silent.
import type { FleetStore } from '../../src/state/fleet-store.ts';

/** The template only stand-in hosts have: a create of it is placed with no worker involved. */
export const STAND_IN_TEMPLATE = 'standin';

/** How often stand-in beats are renewed between blocks, and how long each one lives. */
const RENEW_MS = 4_000;
const BEAT_TTL_MS = 120_000;

/** What each stand-in host offers: room for every placement the bench makes. */
const CAPACITY = { vcpus: 1_000_000, memoryMib: 1_000_000_000, slots: 999 };

/** Stand-in hosts `<prefix>-0..n-1`, beating until `stop()`. */
export class StandInHosts {
  readonly ids: string[];
  readonly #store: FleetStore;
  readonly #startedAt = new Date().toISOString();
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> = Promise.resolve();
  #quiet = 0;

  constructor(store: FleetStore, prefix: string, count: number) {
    this.#store = store;
    this.ids = Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
  }

  /** Writes every host's first beat and keeps beating. */
  async start(): Promise<void> {
    await this.#renew();
    this.#timer = setInterval(() => {
      if (this.#quiet === 0) this.#inFlight = this.#inFlight.then(() => this.#renew());
    }, RENEW_MS);
  }

  /** Runs `block` with the beats renewed first and then held until it ends. */
  async quietly<T>(block: () => Promise<T>): Promise<T> {
    this.#quiet += 1;
    try {
      await this.#inFlight;
      await this.#renew();
      return await block();
    } finally {
      this.#quiet -= 1;
    }
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  async #renew(): Promise<void> {
    const at = new Date().toISOString();
    await Promise.all(
      this.ids.map((hostId) =>
        this.#store.hosts.publishBeat(
          {
            hostId,
            backend: {
              kind: 'bench-stand-in',
              standIn: true,
              description: 'scale-bench stand-in host: a heartbeat with no worker behind it',
            },
            capacity: CAPACITY,
            used: { vcpus: 0, memoryMib: 0, slots: 0 },
            templates: [STAND_IN_TEMPLATE],
            startedAt: this.#startedAt,
            at,
          },
          BEAT_TTL_MS,
        ),
      ),
    );
  }
}
