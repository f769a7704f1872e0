import type { SandboxState } from '../events/event-schemas.ts';
import type { LedgerEntry } from '../state/host-ledger.ts';
import type { SandboxRecord } from '../state/record-schemas.ts';
import type { HostContext } from './host-context.ts';

/**
 * Moves a sandbox to `state` everywhere at once: the host ledger (the host's truth), the
 * fleet record in Redis, and a `sandbox.state` event when the state really changed.
 */
export async function setSandboxState(
  ctx: HostContext,
  entry: LedgerEntry,
  state: SandboxState,
  extra: Partial<Pick<SandboxRecord, 'diskBytes' | 'pid' | 'lastError'>> = {},
): Promise<LedgerEntry> {
  const previous = ctx.ledger.get(entry.sandboxId)?.state;
  const next: LedgerEntry = { ...entry, state };
  if (state === 'destroyed') await ctx.ledger.remove(entry.sandboxId);
  else await ctx.ledger.put(next);
  await publishRecord(ctx, next, extra);
  if (previous !== state) {
    await ctx.events.publish({
      type: 'sandbox.state',
      at: new Date().toISOString(),
      hostId: ctx.hostId,
      sandboxId: entry.sandboxId,
      state,
      ...(previous === undefined ? {} : { previous }),
    });
  }
  return next;
}

/** Writes the fleet record for a ledger entry (after a restart, to republish the host's truth). */
export async function publishRecord(
  ctx: HostContext,
  entry: LedgerEntry,
  extra: Partial<Pick<SandboxRecord, 'diskBytes' | 'pid' | 'lastError'>> = {},
): Promise<void> {
  const existing = await ctx.store.getSandbox(entry.sandboxId);
  const { priorState: _prior, ...fields } = entry;
  await ctx.store.putSandbox({
    ...(existing ?? {}),
    ...fields,
    ...extra,
    hostId: ctx.hostId,
    createdAt: existing?.createdAt ?? entry.createdAt,
    updatedAt: new Date().toISOString(),
  });
}
