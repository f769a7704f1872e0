import { expiredByPolicy } from '../state/retention-policy.ts';
import type { HostContext } from './host-context.ts';
import { removeSnapshotNow } from './operations/delete-snapshot.ts';

/** How many of this host's snapshots one retention pass reads. */
const SCAN = 10_000;

/**
 * Applies each snapshot series' retention to this host's snapshots: per series and
 * sandbox, the snapshots its policy lets go (beyond the newest N, older than D days) are
 * deleted as a delete-snapshot job would, under each snapshot's write lock (after any
 * restore reading it). A series' policy set in Redis (by its batch) takes precedence over
 * the worker's config. Returns the ids deleted.
 */
export async function applyRetention(ctx: HostContext): Promise<string[]> {
  const mine = (await ctx.store.listSnapshots({ hostId: ctx.hostId }, SCAN)).filter(
    (snapshot) => snapshot.series !== undefined && ctx.ledger.hasSnapshot(snapshot.snapshotId),
  );
  const bySeries = Map.groupBy(mine, (snapshot) => snapshot.series!);
  const deleted: string[] = [];
  for (const [series, snapshots] of bySeries) {
    const policy = (await ctx.store.snapshots.policy(series)) ?? ctx.snapshotRetention[series];
    if (policy === undefined) continue;
    for (const ofSandbox of Map.groupBy(snapshots, (snapshot) => snapshot.sandboxId).values()) {
      for (const victim of expiredByPolicy(ofSandbox, policy)) {
        await ctx.snapshotLocks.write(victim.snapshotId, () => removeSnapshotNow(ctx, victim.snapshotId));
        deleted.push(victim.snapshotId);
      }
    }
  }
  if (deleted.length > 0) ctx.log.info({ deleted }, 'snapshot retention deleted snapshots');
  return deleted;
}
