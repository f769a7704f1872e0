import type { Queue } from 'bullmq';
import { Gauge, Registry } from 'prom-client';
import { SandboxState } from '../events/event-schemas.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import type { HostHeartbeat } from '../state/record-schemas.ts';

/** The job states whose counts the fleet's metrics report per queue. */
const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed'] as const;

/** Reads within this long share one pass over Redis (a scrape collects every gauge at once). */
const SHARED_READ_MS = 1_000;

/** The queues the dashboard shows, by host (QueueRegistry.hostQueues). */
export interface FleetQueues {
  hostQueues(): { hostId: string; kind: 'host' | 'batch'; queue: Queue }[];
}

interface FleetFigures {
  byState: Partial<Record<SandboxState, number>>;
  live: HostHeartbeat[];
  known: string[];
  jobs: { hostId: string; kind: string; counts: Record<string, number> }[];
  unforwarded: number;
}

/**
 * The fleet's Prometheus metrics, as the dashboard serves them on /metrics: sandboxes by
 * state from the hosts' counters, hosts live and lost, job counts per host queue, and each
 * live host's capacity, use and warm VMs from its heartbeat. Read from Redis at scrape time
 * (one read per host for each figure, never a sandbox record); labels name hosts, states and
 * templates, never a sandbox or a job.
 */
export class FleetMetrics {
  /** What GET /metrics serves. */
  readonly registry = new Registry();
  readonly #store: FleetStore;
  readonly #queues: FleetQueues;
  #read: { at: number; figures: Promise<FleetFigures> } | undefined;

  constructor(store: FleetStore, queues: FleetQueues) {
    this.#store = store;
    this.#queues = queues;
    const registers = [this.registry];
    const figures = () => this.#figures();
    new Gauge({
      name: 'hangar_fleet_sandboxes',
      help: "Sandboxes by state across the fleet, from the hosts' counters (destroyed and failed are cumulative)",
      labelNames: ['state'],
      registers,
      async collect() {
        const { byState } = await figures();
        for (const state of SandboxState.options) this.set({ state }, byState[state] ?? 0);
      },
    });
    new Gauge({
      name: 'hangar_fleet_hosts',
      help: 'Registered hosts by state: live (heartbeat alive) or lost (silent; marked lost after lostAfterMs)',
      labelNames: ['state'],
      registers,
      async collect() {
        const { live, known } = await figures();
        this.set({ state: 'live' }, live.length);
        this.set({ state: 'lost' }, known.length - live.length);
      },
    });
    new Gauge({
      name: 'hangar_fleet_queue_jobs',
      help: "Jobs in each host's queues (host: its own; batch: its part of batch snapshots), by state",
      labelNames: ['host_id', 'queue', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const { hostId, kind, counts } of (await figures()).jobs) {
          for (const state of JOB_STATES)
            this.set({ host_id: hostId, queue: kind, state }, counts[state] ?? 0);
        }
      },
    });
    hostFigure(
      registers,
      figures,
      'hangar_fleet_host_capacity',
      'Capacity a live host offers sandboxes',
      (h) => h.capacity,
    );
    hostFigure(
      registers,
      figures,
      'hangar_fleet_host_used',
      'What sandboxes hold of a live host',
      (h) => h.used,
    );
    new Gauge({
      name: 'hangar_fleet_warm_vms',
      help: 'Pool VMs on live hosts, by host, template and state (ready, warming), from heartbeats',
      labelNames: ['host_id', 'template', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const host of (await figures()).live) {
          for (const [template, pool] of Object.entries(host.pool)) {
            this.set({ host_id: host.hostId, template, state: 'ready' }, pool.ready);
            this.set({ host_id: host.hostId, template, state: 'warming' }, pool.warming);
          }
        }
      },
    });
    new Gauge({
      name: 'hangar_fleet_unforwarded_events',
      help: "Events written by hosts but not yet in the fleet's stream (every host's outbox)",
      registers,
      async collect() {
        this.set((await figures()).unforwarded);
      },
    });
  }

  // One pass over Redis serves every gauge of a scrape (and scrapes close together).
  #figures(): Promise<FleetFigures> {
    const now = Date.now();
    if (this.#read !== undefined && now - this.#read.at < SHARED_READ_MS) return this.#read.figures;
    const figures = this.#readFigures();
    this.#read = { at: now, figures };
    // A failed read is not reused: the next scrape tries again.
    figures.catch(() => {
      if (this.#read?.figures === figures) this.#read = undefined;
    });
    return figures;
  }

  async #readFigures(): Promise<FleetFigures> {
    const store = this.#store;
    const [byState, live, known, unforwarded, jobs] = await Promise.all([
      store.countsByState(),
      store.hosts.liveHosts(),
      store.hosts.knownHosts(),
      store.unforwardedEvents(),
      Promise.all(
        this.#queues.hostQueues().map(async ({ hostId, kind, queue }) => ({
          hostId,
          kind,
          counts: await queue.getJobCounts(...JOB_STATES),
        })),
      ),
    ]);
    return { byState, live, known, jobs, unforwarded };
  }
}

// A per-host figure from heartbeats, one series per resource (vcpus, memory_mib, slots).
function hostFigure(
  registers: Registry[],
  figures: () => Promise<FleetFigures>,
  name: string,
  help: string,
  pick: (host: HostHeartbeat) => { vcpus: number; memoryMib: number; slots: number },
): void {
  new Gauge({
    name,
    help: `${help}, by host and resource (vcpus, memory_mib, slots), from heartbeats`,
    labelNames: ['host_id', 'resource'],
    registers,
    async collect() {
      this.reset();
      for (const host of (await figures()).live) {
        const { vcpus, memoryMib, slots } = pick(host);
        this.set({ host_id: host.hostId, resource: 'vcpus' }, vcpus);
        this.set({ host_id: host.hostId, resource: 'memory_mib' }, memoryMib);
        this.set({ host_id: host.hostId, resource: 'slots' }, slots);
      }
    },
  });
}
