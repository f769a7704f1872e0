import type { SandboxState } from '../events/event-schemas.ts';
import type { FleetStore } from '../state/fleet-store.ts';

/** What `/api/fleet` answers: live hosts, every known host, and sandboxes counted by state. */
export interface FleetSummary {
  hosts: { hostId: string; backend: string; standIn: boolean; sandboxes: number; at: string }[];
  knownHosts: string[];
  sandboxes: { total: number; byState: Partial<Record<SandboxState, number>> };
  queues: string[];
}

/** Reads the fleet's records into a small summary (cheap enough to poll). */
export async function fleetSummary(store: FleetStore, queues: readonly string[]): Promise<FleetSummary> {
  const [live, known, sandboxes] = await Promise.all([
    store.hosts.liveHosts(),
    store.hosts.knownHosts(),
    store.listSandboxes(),
  ]);
  const byState: Partial<Record<SandboxState, number>> = {};
  for (const record of sandboxes) byState[record.state] = (byState[record.state] ?? 0) + 1;
  return {
    hosts: live
      .map((host) => ({
        hostId: host.hostId,
        backend: host.backend.description,
        standIn: host.backend.standIn,
        sandboxes: sandboxes.filter((record) => record.hostId === host.hostId && record.state !== 'destroyed')
          .length,
        at: host.at,
      }))
      .sort((a, b) => a.hostId.localeCompare(b.hostId)),
    knownHosts: [...known].sort(),
    sandboxes: { total: sandboxes.length, byState },
    queues: [...queues],
  };
}
