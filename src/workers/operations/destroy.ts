import type { PayloadOf } from '../../queues/job-schemas.ts';
import type { HostContext } from '../host-context.ts';
import { setSandboxState } from '../sandbox-records.ts';
import { type OperationResult, type OperationRun, runOperationSteps } from './operation.ts';
import { baseOf, releaseSlot } from './sandbox-resources.ts';

/**
 * destroy: stop the VMM first (a busy disk cannot be removed while it runs), then the
 * disk, then the network slot, then the records. Each step tolerates what is already gone.
 */
export async function destroySandbox(
  ctx: HostContext,
  payload: PayloadOf<'destroy'>,
  run: OperationRun,
): Promise<OperationResult> {
  let entry = ctx.ledger.get(payload.sandboxId);
  if (entry === undefined) {
    const record = await ctx.store.getSandbox(payload.sandboxId);
    return { outcome: 'already', sandboxId: payload.sandboxId, state: record?.state ?? 'destroyed' };
  }
  const vm = ctx.vms.get(payload.sandboxId);
  await runOperationSteps(run, [
    { name: 'mark', run: async () => (entry = await setSandboxState(ctx, entry!, 'destroying')) },
    { name: 'vm', run: () => vm.shutdown() },
    { name: 'disk', run: () => ctx.disks.remove(entry!.sandboxId, baseOf(ctx, entry!)) },
    { name: 'network', run: () => releaseSlot(ctx, entry!) },
    {
      name: 'records',
      run: async () => {
        await setSandboxState(ctx, entry!, 'destroyed');
        ctx.vms.forget(payload.sandboxId);
      },
    },
  ]);
  return { outcome: 'done', sandboxId: payload.sandboxId, state: 'destroyed' };
}
