import { holdsCapacity } from './admission.ts';
import type { HostContext } from './host-context.ts';
import { publishRecord } from './sandbox-records.ts';

/**
 * Writes the host's truth back into Redis: every ledger entry's record (a record Redis lost,
 * or one marked lost while the host was away, returns to what the ledger says) and the
 * host's capacity reservations. Run at start, after every reconnect and at a slow period.
 */
export async function republishHost(
  ctx: HostContext,
): Promise<{ records: number; released: string[]; added: string[] }> {
  const entries = ctx.ledger.entries();
  for (const entry of entries) await publishRecord(ctx, entry);
  const held = entries
    .filter(holdsCapacity)
    .map((entry) => ({ sandboxId: entry.sandboxId, vcpus: entry.vcpus, memoryMib: entry.memoryMib }));
  const { released, added } = await ctx.store.hosts.resyncReservations(ctx.hostId, held);
  return { records: entries.length, released, added };
}
