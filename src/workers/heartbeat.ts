import type { HostHeartbeat } from '../state/record-schemas.ts';
import type { HostContext } from './host-context.ts';

/** A host's resources, as its heartbeat advertises them. */
export interface HostCapacity {
  vcpus: number;
  memoryMib: number;
  slots: number;
}

/** What one heartbeat says: capacity, what the ledger uses, the backend, the templates. */
export function heartbeatOf(ctx: HostContext, capacity: HostCapacity, startedAt: string): HostHeartbeat {
  const holding = ctx.ledger
    .entries()
    .filter((entry) => entry.slot !== undefined && entry.state !== 'crashed');
  return {
    hostId: ctx.hostId,
    backend: {
      kind: ctx.backend.info.kind,
      standIn: ctx.backend.info.standIn,
      description: ctx.backend.info.description,
    },
    capacity,
    used: {
      vcpus: holding.reduce((sum, entry) => sum + entry.vcpus, 0),
      memoryMib: holding.reduce((sum, entry) => sum + entry.memoryMib, 0),
      slots: holding.length,
    },
    templates: ctx.templates.ids(),
    startedAt,
    at: new Date().toISOString(),
  };
}

/**
 * Marks hosts whose heartbeat expired as lost: their sandboxes' records say `lost` and a
 * `host.lost` event goes out once. Any worker may run it; repeating it changes nothing.
 */
export async function markLostHosts(ctx: HostContext): Promise<string[]> {
  const live = new Set((await ctx.store.liveHosts()).map((host) => host.hostId));
  const lost: string[] = [];
  const sandboxes = await ctx.store.listSandboxes();
  for (const hostId of await ctx.store.knownHosts()) {
    if (live.has(hostId)) continue;
    const stranded = sandboxes.filter(
      (record) => record.hostId === hostId && !['destroyed', 'failed', 'lost'].includes(record.state),
    );
    if (stranded.length === 0) continue;
    for (const record of stranded) {
      await ctx.store.putSandbox({ ...record, state: 'lost', updatedAt: new Date().toISOString() });
    }
    await ctx.events.publish({
      type: 'host.lost',
      at: new Date().toISOString(),
      hostId: ctx.hostId,
      lostHostId: hostId,
      sandboxes: stranded.map((record) => record.sandboxId),
    });
    lost.push(hostId);
  }
  return lost;
}
