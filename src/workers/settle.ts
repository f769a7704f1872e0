import { rm } from 'node:fs/promises';
import type { Logger } from '../logging/logger.ts';
import type { LedgerEntry } from '../state/host-ledger.ts';
import type { HostContext } from './host-context.ts';
import { teardownSteps } from './operations/destroy.ts';
import { vmOf } from './operations/sandbox-resources.ts';
import { setSandboxState } from './sandbox-records.ts';
import { runSteps } from './step-runner.ts';

/** What settling did to a sandbox left in a transitional state. */
export type Settled = 'rolled-back' | 'finished' | 'restored' | 'untouched';

/**
 * Settles a sandbox whose job is gone for good (it stalled out, or the worker died and the
 * job no longer exists) while it was in a transitional state, the way a final failure of
 * that job would have: a half-built create or restore is torn down and marked failed; an
 * interrupted destroy is finished; an interrupted snapshot's directory is removed (unless
 * the snapshot was recorded) and the sandbox goes back to its prior state. Every step is an
 * ensure, so settling twice changes nothing more.
 */
export async function settleEntry(ctx: HostContext, entry: LedgerEntry, log: Logger): Promise<Settled> {
  const steps = teardownSteps(ctx, () => entry);
  switch (entry.state) {
    case 'creating':
    case 'restoring':
      await runSteps(steps, { log, rollback: () => false });
      await setSandboxState(ctx, entry, 'failed', {
        lastError: { code: 'E_STALLED', message: 'the job building this sandbox was abandoned; rolled back' },
      });
      await ctx.ledger.remove(entry.sandboxId);
      await ctx.store.directory.put(entry.sandboxId, ctx.hostId, ctx.retentionSeconds);
      return 'rolled-back';
    case 'destroying':
      await runSteps(steps, { log, rollback: () => false });
      await setSandboxState(ctx, entry, 'destroyed');
      await ctx.store.directory.put(entry.sandboxId, ctx.hostId, ctx.retentionSeconds);
      return 'finished';
    case 'snapshotting': {
      const snapshotId = entry.snapshotId;
      if (snapshotId !== undefined && !ctx.ledger.hasSnapshot(snapshotId)) {
        await rm(ctx.paths.snapshotDir(snapshotId), { recursive: true, force: true });
      }
      const prior = entry.priorState === 'running' ? 'running' : 'paused';
      const vm = vmOf(ctx, entry);
      if (!(await vm.reattach())) {
        await setSandboxState(ctx, { ...entry, priorState: undefined }, 'crashed');
        return 'restored';
      }
      if (prior === 'running') await vm.ensureResumed();
      await setSandboxState(ctx, { ...entry, priorState: undefined }, prior);
      return 'restored';
    }
    default:
      return 'untouched';
  }
}
