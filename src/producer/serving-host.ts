import { IllegalStateError } from '../errors/index.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import type { HostHeartbeat } from '../state/record-schemas.ts';
import { HostLostError } from './producer-errors.ts';

/** A live host's heartbeat with the URL its transfer server serves snapshots at. */
export type ServingHost = HostHeartbeat & { transferUrl: string };

/** `hostId`'s heartbeat when it is live and serves snapshots; HostLostError or IllegalStateError otherwise. */
export async function servingHost(
  store: FleetStore,
  hostId: string,
  details: Record<string, unknown> = {},
): Promise<ServingHost> {
  const host = await store.hosts.heartbeatOf(hostId);
  if (host === undefined) throw new HostLostError(hostId, details);
  if (host.transferUrl === undefined) {
    throw new IllegalStateError(
      `host ${hostId} serves no snapshots: start its worker with --transfer-port and a job key`,
      { ...details, hostId },
    );
  }
  return host as ServingHost;
}
