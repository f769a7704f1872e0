import { IllegalStateError, NotFoundError } from '../../errors/index.ts';
import type { StateResult } from '../../queues/job-results.ts';
import type { PayloadOf } from '../../queues/job-schemas.ts';
import type { LedgerEntry } from '../../state/host-ledger.ts';
import { reseedGuest } from '../guest-entropy.ts';
import type { HostContext } from '../host-context.ts';
import { setSandboxState } from '../sandbox-records.ts';
import type { OperationRun, Reported } from './operation.ts';
import { vmOf } from './sandbox-resources.ts';

/**
 * The ledger entry of a sandbox on this host. A sandbox the fleet knows as destroyed or
 * failed is an illegal-state error (never retried); one nobody knows is not-found.
 */
export async function requireEntry(ctx: HostContext, sandboxId: string): Promise<LedgerEntry> {
  const entry = ctx.ledger.get(sandboxId);
  if (entry !== undefined) return entry;
  const record = await ctx.store.getSandbox(sandboxId);
  if (record !== undefined) {
    throw new IllegalStateError(`sandbox ${sandboxId} is ${record.state}`, {
      sandboxId,
      state: record.state,
    });
  }
  throw new NotFoundError(`sandbox ${sandboxId} is not on host ${ctx.hostId}`, { sandboxId });
}

/** pause: the VM stops running; its memory stays in the VMM. A paused sandbox is "already". */
export async function pauseSandbox(
  ctx: HostContext,
  payload: PayloadOf<'pause'>,
  run: OperationRun,
): Promise<Reported<StateResult>> {
  const entry = await requireEntry(ctx, payload.sandboxId);
  if (entry.state !== 'running' && entry.state !== 'paused') {
    throw new IllegalStateError(`cannot pause sandbox ${entry.sandboxId}: it is ${entry.state}`);
  }
  const outcome = await vmOf(ctx, entry).ensurePaused();
  run.log.info({ outcome }, 'paused');
  await setSandboxState(ctx, entry, 'paused', {}, { atFinish: true });
  return {
    outcome: entry.state === 'paused' ? 'already' : outcome,
    sandboxId: entry.sandboxId,
    state: 'paused',
  };
}

/** resume: a paused VM runs again. A running sandbox is "already". */
export async function resumeSandbox(
  ctx: HostContext,
  payload: PayloadOf<'resume'>,
  run: OperationRun,
): Promise<Reported<StateResult>> {
  const entry = await requireEntry(ctx, payload.sandboxId);
  if (entry.state !== 'running' && entry.state !== 'paused') {
    throw new IllegalStateError(`cannot resume sandbox ${entry.sandboxId}: it is ${entry.state}`);
  }
  const outcome = await vmOf(ctx, entry).ensureResumed();
  run.log.info({ outcome }, 'resumed');
  if (entry.reseedOnResume === true) {
    await reseedGuest(ctx.templates.get(entry.template), entry.address!, { log: run.log });
  }
  await setSandboxState(ctx, { ...entry, reseedOnResume: undefined }, 'running', {}, { atFinish: true });
  return {
    outcome: entry.state === 'running' ? 'already' : outcome,
    sandboxId: entry.sandboxId,
    state: 'running',
  };
}
