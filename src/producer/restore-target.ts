import { NotFoundError } from '../errors/index.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import type { HostHeartbeat } from '../state/record-schemas.ts';
import { incompatibilityOn } from '../state/snapshot-compat.ts';
import { assertIdentifier } from '../validation/identifiers.ts';
import { HostLostError, NoCapacityError } from './producer-errors.ts';
import { servingHost } from './serving-host.ts';

/** Where a restore may go besides the snapshot's own host. */
export interface RestorePlace {
  /** This host: another than the snapshot's fetches it from there first (a move). */
  hostId?: string;
  /** Any live host but the snapshot's that can restore it (CPU flags, VMM) and has room. */
  elsewhere?: boolean;
}

/**
 * The host a restore moves the snapshot to, or undefined for the snapshot's own host. A
 * named host is checked against the snapshot before anything is enqueued (its CPU flags
 * and VMM, from its heartbeat), so an incompatible move fails at once with E_INCOMPATIBLE;
 * `elsewhere` picks the compatible host with the most free memory.
 */
export async function restoreTarget(
  store: FleetStore,
  snapshotId: string,
  place: RestorePlace,
): Promise<string | undefined> {
  if (place.hostId === undefined && place.elsewhere !== true) return undefined;
  const snapshot = await store.getSnapshot(snapshotId);
  if (snapshot === undefined) throw new NotFoundError(`no snapshot ${snapshotId}`, { snapshotId });
  const named = place.hostId === undefined ? undefined : assertIdentifier(place.hostId, 'hostId');
  if (named === snapshot.hostId && place.elsewhere !== true) return undefined;
  // The snapshot leaves its home through the home's transfer server.
  await servingHost(store, snapshot.hostId, { snapshotId });
  if (named !== undefined) {
    const target = await store.hosts.heartbeatOf(named);
    if (target === undefined) throw new HostLostError(named, { snapshotId });
    const problem = incompatibilityOn(snapshot, target);
    if (problem !== undefined) throw problem;
    return named;
  }
  const candidates = (await store.hosts.liveHosts()).filter(
    (host) => host.hostId !== snapshot.hostId && host.templates.includes(snapshot.template),
  );
  const compatible = candidates.filter((host) => incompatibilityOn(snapshot, host) === undefined);
  const roomy = compatible
    .filter((host) => freeOf(host).vcpus >= snapshot.vcpus && freeOf(host).memoryMib >= snapshot.memoryMib)
    .sort((a, b) => freeOf(b).memoryMib - freeOf(a).memoryMib);
  if (roomy[0] !== undefined) return roomy[0].hostId;
  const first = candidates[0];
  if (compatible.length === 0 && first !== undefined) throw incompatibilityOn(snapshot, first)!;
  throw new NoCapacityError(
    `no other live host can take a restore of snapshot ${snapshotId} (${snapshot.vcpus} vCPU, ${snapshot.memoryMib} MiB, template ${snapshot.template}): ${candidates.length} serve its template, ${compatible.length} of them can restore it`,
    { snapshotId },
  );
}

function freeOf(host: HostHeartbeat): { vcpus: number; memoryMib: number } {
  return {
    vcpus: host.capacity.vcpus - host.used.vcpus,
    memoryMib: host.capacity.memoryMib - host.used.memoryMib,
  };
}
