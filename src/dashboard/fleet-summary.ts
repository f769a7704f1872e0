import type { SandboxState } from '../events/event-schemas.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import type { HostHeartbeat } from '../state/record-schemas.ts';

/** What `/api/fleet` answers: live hosts, every known host, and sandboxes counted by state. */
export interface FleetSummary {
  hosts: {
    hostId: string;
    backend: string;
    standIn: boolean;
    sandboxes: number;
    /** The host's VM pool by template (ready, warming, target). */
    pool: HostHeartbeat['pool'];
    at: string;
  }[];
  knownHosts: string[];
  /** `total` counts live sandboxes; destroyed and failed counts are cumulative. */
  sandboxes: { total: number; byState: Partial<Record<SandboxState, number>> };
  queues: string[];
}

const GONE: ReadonlySet<string> = new Set(['destroyed', 'failed']);

/**
 * Reads the fleet's summary from counters and heartbeats (cheap enough to poll, whatever the
 * fleet's size): no sandbox record is read.
 */
export async function fleetSummary(store: FleetStore, queues: readonly string[]): Promise<FleetSummary> {
  const [live, known, byState] = await Promise.all([
    store.hosts.liveHosts(),
    store.hosts.knownHosts(),
    store.countsByState(),
  ]);
  const total = Object.entries(byState)
    .filter(([state]) => !GONE.has(state))
    .reduce((sum, [, count]) => sum + (count ?? 0), 0);
  return {
    hosts: live
      .map((host) => ({
        hostId: host.hostId,
        backend: host.backend.description,
        standIn: host.backend.standIn,
        sandboxes: host.used.slots,
        pool: host.pool,
        at: host.at,
      }))
      .sort((a, b) => a.hostId.localeCompare(b.hostId)),
    knownHosts: [...known].sort(),
    sandboxes: { total, byState },
    queues: [...queues],
  };
}
