import { join } from 'node:path';
import type { RootDisk } from '../../devicemapper/root-disk-provider.ts';
import { IllegalStateError, NotFoundError } from '../../errors/index.ts';
import type { SlotLayout } from '../../network/index.ts';
import type { PayloadOf } from '../../queues/job-schemas.ts';
import type { LedgerEntry } from '../../state/host-ledger.ts';
import { waitGuestReady } from '../guest-readiness.ts';
import type { HostContext } from '../host-context.ts';
import { setSandboxState } from '../sandbox-records.ts';
import { vmSpecFor } from '../vm-spec-for.ts';
import { summary } from './create.ts';
import { type OperationResult, type OperationRun, runOperationSteps } from './operation.ts';
import { baseOf, ensureSlot, releaseSlot } from './sandbox-resources.ts';

/**
 * restore: a new sandbox from a snapshot on this host: slot + network, a disk that starts
 * as the snapshot's disk copy, and a VMM restored from the snapshot's memory. Every guest
 * has the same address and MAC, so the memory state works in any slot.
 */
export async function restoreSandbox(
  ctx: HostContext,
  payload: PayloadOf<'restore'>,
  run: OperationRun,
): Promise<OperationResult> {
  const existing = ctx.ledger.get(payload.sandboxId);
  if (existing !== undefined && existing.state !== 'restoring') {
    if (
      existing.fromSnapshot === payload.snapshotId &&
      (existing.state === 'running' || existing.state === 'paused')
    ) {
      return summary(existing, 'already');
    }
    throw new IllegalStateError(`sandbox ${payload.sandboxId} exists and is ${existing.state}`);
  }
  const snapshot = await ctx.store.getSnapshot(payload.snapshotId);
  if (snapshot === undefined || !ctx.ledger.hasSnapshot(payload.snapshotId)) {
    throw new NotFoundError(`snapshot ${payload.snapshotId} is not on host ${ctx.hostId}`, {
      snapshotId: payload.snapshotId,
    });
  }
  const dir = ctx.paths.snapshotDir(payload.snapshotId);
  let entry: LedgerEntry = existing ?? {
    sandboxId: payload.sandboxId,
    state: 'restoring',
    template: snapshot.template,
    vcpus: snapshot.vcpus,
    memoryMib: snapshot.memoryMib,
    labels: payload.labels,
    fromSnapshot: payload.snapshotId,
    createdAt: new Date().toISOString(),
  };
  const vm = ctx.vms.get(payload.sandboxId);
  let slot: SlotLayout | undefined;
  let disk: RootDisk | undefined;
  await runOperationSteps(run, [
    { name: 'record', run: async () => (entry = await setSandboxState(ctx, entry, 'restoring')) },
    {
      name: 'network',
      run: async () => {
        slot = await ensureSlot(ctx, entry);
        entry = { ...entry, slot: slot.slot, address: slot.hostIp };
        await ctx.ledger.put(entry);
      },
      undo: () => releaseSlot(ctx, entry),
    },
    {
      name: 'disk',
      run: async () =>
        (disk = await ctx.disks.createFromCow(entry.sandboxId, baseOf(ctx, entry), join(dir, 'disk.cow'))),
      undo: () => ctx.disks.remove(entry.sandboxId, baseOf(ctx, entry)),
    },
    {
      name: 'vm',
      run: () =>
        vm.restoreFrom(join(dir, 'vm'), vmSpecFor(ctx, entry, slot!, disk!), { resume: payload.resume }),
      undo: () => vm.shutdown(),
    },
    {
      name: 'guest-ready',
      run: async () =>
        payload.resume ? waitGuestReady(ctx.templates.get(entry.template), slot!.hostIp, entry.memoryMib) : 0,
    },
    {
      name: 'ready',
      run: async () =>
        (entry = await setSandboxState(ctx, entry, payload.resume ? 'running' : 'paused', {
          diskBytes: disk!.usedBytes,
          pid: vm.pid,
        })),
    },
  ]);
  return summary(entry, 'done');
}
