import type { RootDisk } from '../../devicemapper/root-disk-provider.ts';
import { IllegalStateError } from '../../errors/index.ts';
import type { SlotLayout } from '../../network/index.ts';
import type { PayloadOf } from '../../queues/job-schemas.ts';
import type { LedgerEntry } from '../../state/host-ledger.ts';
import { waitGuestReady } from '../guest-readiness.ts';
import type { HostContext } from '../host-context.ts';
import { setSandboxState } from '../sandbox-records.ts';
import { vmSpecFor } from '../vm-spec-for.ts';
import { type OperationResult, type OperationRun, runOperationSteps } from './operation.ts';
import { baseOf, ensureSlot, releaseSlot } from './sandbox-resources.ts';

/** create: record, slot + network, CoW disk, VM booted, running. Rollback is the reverse. */
export async function createSandbox(
  ctx: HostContext,
  payload: PayloadOf<'create'>,
  run: OperationRun,
): Promise<OperationResult> {
  const existing = ctx.ledger.get(payload.sandboxId);
  if (existing !== undefined && existing.state !== 'creating') {
    if (existing.state === 'running' || existing.state === 'paused') return summary(existing, 'already');
    throw new IllegalStateError(`sandbox ${payload.sandboxId} exists and is ${existing.state}`);
  }
  ctx.templates.get(payload.template);
  let entry: LedgerEntry = existing ?? {
    sandboxId: payload.sandboxId,
    state: 'creating',
    template: payload.template,
    vcpus: payload.vcpus,
    memoryMib: payload.memoryMib,
    labels: payload.labels,
    createdAt: new Date().toISOString(),
  };
  const vm = ctx.vms.get(payload.sandboxId);
  let slot: SlotLayout | undefined;
  let disk: RootDisk | undefined;
  await runOperationSteps(run, [
    { name: 'record', run: async () => (entry = await setSandboxState(ctx, entry, 'creating')) },
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
      run: async () => (disk = await ctx.disks.create(entry.sandboxId, baseOf(ctx, entry))),
      undo: () => ctx.disks.remove(entry.sandboxId, baseOf(ctx, entry)),
    },
    {
      name: 'vm',
      run: () => vm.ensureBooted(vmSpecFor(ctx, entry, slot!, disk!)),
      undo: () => vm.shutdown(),
    },
    {
      name: 'guest-ready',
      run: () => waitGuestReady(ctx.templates.get(entry.template), slot!.hostIp, entry.memoryMib),
    },
    {
      name: 'running',
      run: async () =>
        (entry = await setSandboxState(ctx, entry, 'running', { diskBytes: disk!.usedBytes, pid: vm.pid })),
    },
  ]);
  return summary(entry, 'done');
}

/** What create and restore report. */
export function summary(entry: LedgerEntry, outcome: 'done' | 'already'): OperationResult {
  return {
    outcome,
    sandboxId: entry.sandboxId,
    state: entry.state,
    slot: entry.slot,
    address: entry.address,
  };
}
