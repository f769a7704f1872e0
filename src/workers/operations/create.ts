import { ConflictError, IllegalStateError } from '../../errors/index.ts';
import type { SandboxResult } from '../../queues/job-results.ts';
import type { PayloadOf } from '../../queues/job-schemas.ts';
import type { LedgerEntry } from '../../state/host-ledger.ts';
import type { HostContext } from '../host-context.ts';
import { sandboxBuildSteps } from './build-sandbox.ts';
import { type OperationRun, type Reported, runOperationSteps } from './operation.ts';
import { baseOf } from './sandbox-resources.ts';
import { takeFromPoolSteps } from './take-from-pool.ts';

/**
 * create: from a ready pool VM of the template and shape when the host has one (take,
 * resume, guest answering, running), else cold: record, slot + network, CoW disk, VM booted,
 * running. Rollback is the reverse.
 */
export async function createSandbox(
  ctx: HostContext,
  payload: PayloadOf<'create'>,
  run: OperationRun,
): Promise<Reported<SandboxResult>> {
  const existing = ctx.ledger.get(payload.sandboxId);
  if (existing !== undefined && existing.state !== 'creating') {
    if (existing.state === 'running' || existing.state === 'paused') return summary(existing, 'already');
    throw new IllegalStateError(`sandbox ${payload.sandboxId} exists and is ${existing.state}`);
  }
  ctx.templates.get(payload.template);
  if (existing === undefined) await refuseReuse(ctx, payload.sandboxId);
  const initial: LedgerEntry = existing ?? {
    sandboxId: payload.sandboxId,
    state: 'creating',
    template: payload.template,
    vcpus: payload.vcpus,
    memoryMib: payload.memoryMib,
    labels: payload.labels,
    createdAt: new Date().toISOString(),
  };
  // A retry of a create that took a pool VM goes on with that VM; a new one takes one if it can.
  const pooled = existing === undefined ? ctx.pool.reserve(initial) : undefined;
  if (pooled !== undefined || existing?.vmId !== undefined) {
    const warm = takeFromPoolSteps(ctx, initial, run.jobId, pooled);
    await runOperationSteps(run, warm.steps);
    return summary(warm.entry(), 'done');
  }
  const vm = ctx.vms.get(payload.sandboxId);
  const build = sandboxBuildSteps(ctx, initial, {
    building: 'creating',
    jobId: run.jobId,
    disk: (entry) => ctx.disks.create(entry.sandboxId, baseOf(ctx, entry)),
    vm: (spec) => vm.ensureBooted(spec),
    final: 'running',
  });
  await runOperationSteps(run, build.steps);
  return summary(build.entry(), 'done');
}

/** A sandbox id the fleet knew before (destroyed, failed) is never built again. */
export async function refuseReuse(ctx: HostContext, sandboxId: string): Promise<void> {
  const record = await ctx.store.getSandbox(sandboxId);
  if (record !== undefined && record.state !== 'creating' && record.state !== 'restoring') {
    throw new ConflictError(`sandbox id ${sandboxId} was used before (it is ${record.state})`, {
      sandboxId,
      state: record.state,
    });
  }
}

/** What create and restore report. */
export function summary(entry: LedgerEntry, outcome: 'done' | 'already'): Reported<SandboxResult> {
  return {
    outcome,
    sandboxId: entry.sandboxId,
    state: entry.state,
    ...(entry.slot === undefined ? {} : { slot: entry.slot }),
    ...(entry.address === undefined ? {} : { address: entry.address }),
    ...(entry.diskBytes === undefined ? {} : { diskBytes: entry.diskBytes }),
  };
}
