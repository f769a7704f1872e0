import type { StateResult } from '../../queues/job-results.ts';
import type { PayloadOf } from '../../queues/job-schemas.ts';
import { type LedgerEntry, resourceIdOf } from '../../state/host-ledger.ts';
import type { HostContext } from '../host-context.ts';
import { setSandboxState } from '../sandbox-records.ts';
import type { Step } from '../step-runner.ts';
import { type OperationRun, type Reported, runOperationSteps } from './operation.ts';
import { baseOf, releaseSlot, removeRuntimeFiles } from './sandbox-resources.ts';

/**
 * destroy: stop the VMM first (a busy disk cannot be removed while it runs), then the
 * disk, then the network slot, then the runtime files, then the records. Each step
 * tolerates what is already gone.
 */
export async function destroySandbox(
  ctx: HostContext,
  payload: PayloadOf<'destroy'>,
  run: OperationRun,
): Promise<Reported<StateResult>> {
  let entry = ctx.ledger.get(payload.sandboxId);
  if (entry === undefined) {
    const record = await ctx.store.getSandbox(payload.sandboxId);
    return { outcome: 'already', sandboxId: payload.sandboxId, state: record?.state ?? 'destroyed' };
  }
  await runOperationSteps(run, [
    {
      name: 'mark',
      run: async () => (entry = await setSandboxState(ctx, { ...entry!, jobId: run.jobId }, 'destroying')),
    },
    ...teardownSteps(ctx, () => entry!),
    { name: 'records', run: () => setSandboxState(ctx, entry!, 'destroyed', {}, { atFinish: true }) },
  ]);
  return { outcome: 'done', sandboxId: payload.sandboxId, state: 'destroyed' };
}

/**
 * What a sandbox holds on this host, released in order: VMM, disk, network slot, runtime
 * directory (socket, pidfile, logs). Shared by destroy and by the settling of abandoned builds.
 */
export function teardownSteps(ctx: HostContext, entry: () => LedgerEntry): Step[] {
  const resourceId = resourceIdOf(entry());
  return [
    { name: 'vm', run: () => ctx.vms.get(resourceId).shutdown() },
    { name: 'disk', run: () => ctx.disks.remove(resourceId, baseOf(ctx, entry())) },
    { name: 'network', run: () => releaseSlot(ctx, entry()) },
    { name: 'runtime-files', run: () => removeRuntimeFiles(ctx, resourceId) },
  ];
}
