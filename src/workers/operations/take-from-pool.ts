import type { LedgerEntry, PoolEntry } from '../../state/host-ledger.ts';
import { reseedGuest } from '../guest-entropy.ts';
import { waitGuestReady } from '../guest-readiness.ts';
import type { HostContext } from '../host-context.ts';
import { setSandboxState } from '../sandbox-records.ts';
import type { Step } from '../step-runner.ts';
import { teardownSteps } from './destroy.ts';
import { vmOf } from './sandbox-resources.ts';

/**
 * The steps of a create served by a pool VM: the VM becomes the sandbox (its ledger entry,
 * carrying the pool VM's resources, replaces the pool entry in one journal append, after
 * the same admission as a cold create), then it resumes, gets fresh entropy (it did not boot
 * itself: its RNG state is the pool image's), and its guest answers through the sandbox's
 * own address. If a later step fails for good, the VM and everything it holds are torn down
 * as a destroy would. `pooled` is the VM reserved for this create, or undefined on a retry
 * whose entry already names it.
 */
export function takeFromPoolSteps(
  ctx: HostContext,
  initial: LedgerEntry,
  jobId: string,
  pooled: PoolEntry | undefined,
): { steps: Step[]; entry: () => LedgerEntry } {
  let entry: LedgerEntry =
    pooled === undefined
      ? initial
      : {
          ...initial,
          vmId: pooled.vmId,
          ...(pooled.slot === undefined ? {} : { slot: pooled.slot }),
          ...(pooled.address === undefined ? {} : { address: pooled.address }),
          ...(pooled.diskBytes === undefined ? {} : { diskBytes: pooled.diskBytes }),
        };
  const template = ctx.templates.get(entry.template);
  const steps: Step[] = [
    {
      name: 'take-pool-vm',
      run: async () => {
        if (pooled === undefined) return;
        try {
          entry = await ctx.admission.admit(
            ctx,
            entry,
            0,
            async () => {
              const building: LedgerEntry = { ...entry, state: 'creating', jobId };
              await ctx.ledger.takeFromPool(pooled.vmId, building);
              return setSandboxState(ctx, building, 'creating');
            },
            { fromPool: pooled.vmId },
          );
        } finally {
          ctx.pool.settle(pooled.vmId);
        }
      },
      // Once taken, the VM is the sandbox's: a failure tears it down like a destroy.
      undo: async () => {
        for (const step of teardownSteps(ctx, () => entry)) await step.run();
      },
    },
    { name: 'resume', run: () => vmOf(ctx, entry).ensureResumed() },
    // The guest answered its readiness before it was paused into the pool: what is left to
    // prove is the path to it, which a reseed through the sandbox's address proves too.
    ...(template.entropy === undefined
      ? [{ name: 'guest-ready', run: () => waitGuestReady(template, entry.address!, entry.memoryMib) }]
      : []),
    // Every VM of the pool booted from one image: its RNG state is not its own until reseeded.
    {
      name: 'reseed',
      run: () =>
        reseedGuest(template, entry.address!, { log: ctx.log.child({ sandboxId: entry.sandboxId }) }),
    },
    {
      name: 'running',
      run: async () =>
        (entry = await setSandboxState(
          ctx,
          entry,
          'running',
          { pid: vmOf(ctx, entry).pid },
          { atFinish: true },
        )),
    },
  ];
  return { steps, entry: () => entry };
}
