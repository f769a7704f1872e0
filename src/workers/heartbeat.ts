import type { HostHeartbeat } from '../state/record-schemas.ts';
import { freeBytes, holdsCapacity } from './admission.ts';
import type { HostContext } from './host-context.ts';

/** A host's resources, as its heartbeat advertises them. */
export interface HostCapacity {
  vcpus: number;
  memoryMib: number;
  slots: number;
}

/**
 * What one heartbeat says: capacity left for sandboxes (the host's less what its VM pool
 * holds), what the ledger's sandboxes use, the pool apart, the backend, the templates.
 */
export async function heartbeatOf(
  ctx: HostContext,
  capacity: HostCapacity,
  startedAt: string,
): Promise<HostHeartbeat> {
  const holding = ctx.ledger.entries().filter(holdsCapacity);
  const pool = ctx.pool.stats();
  return {
    hostId: ctx.hostId,
    backend: {
      kind: ctx.backend.info.kind,
      standIn: ctx.backend.info.standIn,
      description: ctx.backend.info.description,
    },
    capacity: {
      vcpus: capacity.vcpus - pool.used.vcpus,
      memoryMib: capacity.memoryMib - pool.used.memoryMib,
      slots: capacity.slots - pool.used.slots,
    },
    used: {
      vcpus: holding.reduce((sum, entry) => sum + entry.vcpus, 0),
      memoryMib: holding.reduce((sum, entry) => sum + entry.memoryMib, 0),
      slots: holding.length,
    },
    templates: ctx.templates.ids(),
    pool: pool.byTemplate,
    poolUsed: pool.used,
    snapshots: await ctx.snapshotUsage.total(ctx),
    disk: {
      freeBytes: await freeBytes(ctx.paths.stateDir),
      reserveBytes: ctx.admission.limits.diskReserveMib * 1024 * 1024,
    },
    cpu: ctx.cpu,
    vmmVersion: ctx.backend.info.version,
    ...(ctx.transferUrl === undefined ? {} : { transferUrl: ctx.transferUrl }),
    startedAt,
    at: new Date().toISOString(),
  };
}

/**
 * Marks hosts silent past the grace window as lost: their sandboxes' records say `lost` and
 * a `host.lost` event goes out once. Reads only the hosts last seen before the window and
 * their own index. Any worker may run it; repeating it changes nothing.
 */
export async function markLostHosts(ctx: HostContext, graceMs: number): Promise<string[]> {
  const lost: string[] = [];
  for (const hostId of await ctx.store.hosts.silentSince(graceMs)) {
    if (hostId === ctx.hostId) continue;
    const sandboxes = await ctx.store.hosts.markLost(hostId);
    if (sandboxes === undefined) continue;
    await ctx.events.publish({
      type: 'host.lost',
      at: new Date().toISOString(),
      hostId: ctx.hostId,
      lostHostId: hostId,
      sandboxes,
    });
    ctx.log.warn({ lostHostId: hostId, sandboxes: sandboxes.length }, 'host lost');
    lost.push(hostId);
  }
  return lost;
}
