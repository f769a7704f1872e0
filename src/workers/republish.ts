import { holdsCapacity } from './admission.ts';
import type { HostContext } from './host-context.ts';
import { publishRecord } from './sandbox-records.ts';

/** How many records are written at once (ioredis pipelines concurrent commands). */
const CHUNK = 100;

/**
 * Writes the host's truth back into Redis: every ledger entry's record and its directory
 * entry (a record Redis lost, or one marked lost while the host was away, returns to what
 * the ledger says) and the host's capacity reservations. Run at start, after every
 * reconnect and at a slow period.
 */
export async function republishHost(
  ctx: HostContext,
): Promise<{ records: number; released: string[]; added: string[] }> {
  const entries = ctx.ledger.entries();
  for (let start = 0; start < entries.length; start += CHUNK) {
    await Promise.all(
      entries
        .slice(start, start + CHUNK)
        .flatMap((entry) => [
          publishRecord(ctx, entry),
          ctx.store.directory.put(entry.sandboxId, ctx.hostId),
        ]),
    );
  }
  const held = entries
    .filter(holdsCapacity)
    .map((entry) => ({ sandboxId: entry.sandboxId, vcpus: entry.vcpus, memoryMib: entry.memoryMib }));
  const { released, added } = await ctx.store.hosts.resyncReservations(ctx.hostId, held);
  return { records: entries.length, released, added };
}
