import type { HangarEvent, SandboxState } from '../events/event-schemas.ts';
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
 * Moves a sandbox to `state` everywhere at once: the host ledger (the host's truth, fsynced),
 * then the fleet record with its indexes and, when the state really changed, the
 * `sandbox.state` event, in one Redis step. With `atFinish` (the state a job leaves the
 * sandbox in) the Redis step is the job's own FINISH, one round trip fewer.
 */
export async function setSandboxState(
  ctx: HostContext,
  entry: LedgerEntry,
  state: SandboxState,
  extra: Partial<Pick<SandboxRecord, 'diskBytes' | 'pid' | 'lastError'>> = {},
  options: { atFinish?: boolean } = {},
): Promise<LedgerEntry> {
  const previous = ctx.ledger.get(entry.sandboxId)?.state;
  // The owning job and the snapshot in progress belong to transitional states only.
  const next: LedgerEntry = TRANSITIONAL.has(state)
    ? { ...entry, ...extra, state }
    : { ...entry, ...extra, state, jobId: undefined, snapshotId: undefined };
  if (state === 'destroyed') await ctx.ledger.remove(entry.sandboxId);
  else await ctx.ledger.put(next);
  const record = recordOf(ctx, next);
  const event: HangarEvent = {
    type: 'sandbox.state',
    at: record.updatedAt,
    hostId: ctx.hostId,
    sandboxId: entry.sandboxId,
    state,
    ...(previous === undefined || previous === state ? {} : { previous }),
  };
  if (options.atFinish === true) {
    ctx.pendingRecords.defer({ record, event });
    return next;
  }
  ctx.pendingRecords.drop(entry.sandboxId);
  await ctx.store.putSandbox(record, { retentionSeconds: ctx.retentionSeconds, event });
  ctx.outbox.kick();
  return next;
}

/** Writes the fleet record of a ledger entry as it stands (after a restart, to republish the host's truth). */
export async function publishRecord(ctx: HostContext, entry: LedgerEntry): Promise<void> {
  await ctx.store.putSandbox(recordOf(ctx, entry), { retentionSeconds: ctx.retentionSeconds });
}

/** Writes a sandbox's pending record now (its job will retry, so no FINISH comes soon). */
export async function flushPendingRecord(ctx: HostContext, sandboxId: string): Promise<void> {
  const pending = ctx.pendingRecords.take(sandboxId);
  if (pending === undefined) return;
  await ctx.store.putSandbox(pending.record, {
    retentionSeconds: ctx.retentionSeconds,
    event: pending.event,
  });
  ctx.outbox.kick();
}

/** The fleet record of a ledger entry: the entry's own fields, this host, now. */
export function recordOf(ctx: HostContext, entry: LedgerEntry): SandboxRecord {
  const {
    priorState: _prior,
    jobId: _job,
    snapshotId: _snapshot,
    vmId: _vm,
    reseedOnResume: _reseed,
    ...fields
  } = entry;
  return { ...fields, hostId: ctx.hostId, updatedAt: new Date().toISOString() };
}
