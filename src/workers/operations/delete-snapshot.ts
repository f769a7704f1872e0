import { rm } from 'node:fs/promises';
import type { DeleteSnapshotResult } from '../../queues/job-results.ts';
import type { PayloadOf } from '../../queues/job-schemas.ts';
import type { SnapshotRecord } from '../../state/record-schemas.ts';
import { diskUsage } from '../../vmm/snapshot-dir.ts';
import type { HostContext } from '../host-context.ts';
import { type OperationRun, type Reported, runOperationSteps } from './operation.ts';

/**
 * delete-snapshot: the record and its indexes first (no new restore is placed from it),
 * then the ledger's entry, then the files. It waits until no restore reads the snapshot
 * (SnapshotLocks), and a snapshot already gone is 'already'.
 */
export async function deleteSnapshotOp(
  ctx: HostContext,
  payload: PayloadOf<'delete-snapshot'>,
  run: OperationRun,
): Promise<Reported<DeleteSnapshotResult>> {
  return ctx.snapshotLocks.write(payload.snapshotId, async () => {
    const record = await ctx.store.getSnapshot(payload.snapshotId).catch(() => undefined);
    const dir = ctx.paths.snapshotDir(payload.snapshotId);
    const freedBytes = await diskUsage(dir).catch(() => 0);
    const present = record !== undefined || ctx.ledger.hasSnapshot(payload.snapshotId) || freedBytes > 0;
    if (present) await runOperationSteps(run, deletionSteps(ctx, payload.snapshotId, record));
    return {
      outcome: present ? 'done' : 'already',
      sandboxId: payload.sandboxId,
      snapshotId: payload.snapshotId,
      freedBytes,
    };
  });
}

/** Removes a snapshot everywhere (retention and garbage collection use it too); the caller holds its write lock. */
export async function removeSnapshotNow(ctx: HostContext, snapshotId: string): Promise<number> {
  const record = await ctx.store.getSnapshot(snapshotId).catch(() => undefined);
  const freed = await diskUsage(ctx.paths.snapshotDir(snapshotId)).catch(() => 0);
  for (const step of deletionSteps(ctx, snapshotId, record)) await step.run();
  return freed;
}

function deletionSteps(ctx: HostContext, snapshotId: string, record: SnapshotRecord | undefined) {
  return [
    {
      name: 'record',
      run: async () => (record === undefined ? undefined : ctx.store.snapshots.remove(record)),
    },
    { name: 'ledger', run: () => ctx.ledger.removeSnapshot(snapshotId) },
    {
      name: 'files',
      run: () => rm(ctx.paths.snapshotDir(snapshotId), { recursive: true, force: true }),
    },
  ];
}
