import type { VmCrash } from '../vmm/vm-driver.ts';
import type { HostContext } from './host-context.ts';
import type { KeyedMutex } from './keyed-mutex.ts';
import { baseOf, releaseSlot } from './operations/sandbox-resources.ts';
import { setSandboxState } from './sandbox-records.ts';

/** What happens to a crashed sandbox's disk and network: kept for inspection, or reclaimed at once. */
export type CrashPolicy = 'keep' | 'reclaim';

/**
 * Turns an unexpected VMM exit into a `sandbox.crashed` event and a `crashed` state at once
 * (within the crash watcher's second), then applies the reclaim policy under the sandbox's
 * lock so it never races a job.
 */
export function createCrashHandler(ctx: HostContext, mutex: KeyedMutex, policy: CrashPolicy) {
  return (crash: VmCrash): void => {
    // The crash names the VM's resources: a sandbox's own id, or the pool VM it was made from.
    const vmId = crash.sandboxId;
    const log = ctx.log.child({ vmId, hostId: ctx.hostId });
    const handle = async () => {
      const entry = ctx.ledger.byResource(vmId);
      if (entry === undefined && ctx.ledger.getPool(vmId) !== undefined) {
        await ctx.pool.onCrash(vmId);
        return;
      }
      const sandboxId = entry?.sandboxId ?? vmId;
      ctx.instrument.note?.({ kind: 'vmm-crash', sandboxId });
      await ctx.events.publish({
        type: 'sandbox.crashed',
        at: crash.at.toISOString(),
        hostId: ctx.hostId,
        sandboxId,
        pid: crash.pid,
        code: crash.code,
        signal: crash.signal,
        logTail: crash.logTail.slice(-4_000),
      });
      // A VMM that dies while a job is building or tearing it down is that job's failure:
      // the job retries (and converges) or rolls back; the state stays the job's to set.
      if (entry === undefined || ['creating', 'restoring', 'destroying'].includes(entry.state)) return;
      await setSandboxState(ctx, entry, 'crashed');
      if (policy === 'reclaim') {
        await mutex.run(sandboxId, async () => {
          await ctx.vms.get(vmId).shutdown();
          await ctx.disks.remove(vmId, baseOf(ctx, entry));
          await releaseSlot(ctx, entry);
          await ctx.ledger.put({ ...entry, state: 'crashed', slot: undefined, address: undefined });
        });
      }
    };
    handle().catch((error) => log.error({ err: error }, 'crash handling failed'));
  };
}
