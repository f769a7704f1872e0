import { CorruptStateError } from '../errors/index.ts';
import type { SandboxState } from '../events/event-schemas.ts';
import type { LedgerEntry } from '../state/host-ledger.ts';
import type { SandboxRecord } from '../state/record-schemas.ts';
import type { HostContext } from './host-context.ts';

/** States a job passes through; the entry names the job while in them. */
export const TRANSITIONAL: ReadonlySet<SandboxState> = new Set([
  'creating',
  'restoring',
  'snapshotting',
  'destroying',
]);

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
  // The owning job and the snapshot in progress belong to transitional states only.
  const next: LedgerEntry = TRANSITIONAL.has(state)
    ? { ...entry, state }
    : { ...entry, state, jobId: undefined, snapshotId: undefined };
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
  const existing = await ctx.store.getSandbox(entry.sandboxId).catch((error: unknown) => {
    // The host's ledger is the truth: a corrupt fleet record is replaced, not trusted.
    if (error instanceof CorruptStateError) return undefined;
    throw error;
  });
  const { priorState: _prior, jobId: _job, snapshotId: _snapshot, ...fields } = entry;
  await ctx.store.putSandbox({
    ...(existing ?? {}),
    ...fields,
    ...extra,
    hostId: ctx.hostId,
    createdAt: existing?.createdAt ?? entry.createdAt,
    updatedAt: new Date().toISOString(),
  });
}
