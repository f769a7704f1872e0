import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isStagingLeftover } from '../vmm/snapshot-dir.ts';
import type { HostContext } from './host-context.ts';
import { baseOf } from './operations/sandbox-resources.ts';
import { publishRecord, setSandboxState } from './sandbox-records.ts';

/** What a startup reconcile found and did. */
export interface ReconcileReport {
  reattached: string[];
  crashed: string[];
  sweptDisks: string[];
  sweptStaging: string[];
}

/**
 * Brings the machine in line with the ledger after a (re)start, in wrenn's order: re-attach
 * VMMs of running/paused sandboxes that are alive and mark dead ones crashed; sweep disks,
 * network slots and half-written snapshots nobody owns; republish every record.
 */
export async function reconcileHost(ctx: HostContext): Promise<ReconcileReport> {
  const report: ReconcileReport = { reattached: [], crashed: [], sweptDisks: [], sweptStaging: [] };
  for (const entry of ctx.ledger.entries()) {
    const vm = ctx.vms.get(entry.sandboxId);
    const live = await vm.reattach();
    if (live && ['running', 'paused', 'snapshotting'].includes(entry.state)) {
      report.reattached.push(entry.sandboxId);
      await ctx.disks.restore(entry.sandboxId, baseOf(ctx, entry)).catch((error) => {
        ctx.log.warn({ err: error, sandboxId: entry.sandboxId }, 'disk restore on reconcile failed');
      });
      await publishRecord(ctx, entry);
    } else if (!live && ['running', 'paused', 'snapshotting'].includes(entry.state)) {
      report.crashed.push(entry.sandboxId);
      await setSandboxState(ctx, entry, 'crashed');
    } else {
      // creating / restoring / destroying: the job that owns it is retried and converges.
      await publishRecord(ctx, entry);
    }
  }
  const owned = new Set(ctx.ledger.entries().map((entry) => entry.sandboxId));
  report.sweptDisks = (await ctx.disks.sweep(owned)).removed;
  report.sweptStaging = await sweepSnapshotStaging(ctx);
  return report;
}

// A snapshot interrupted before its manifest is written is garbage unless a retry finishes it;
// staging directories of the VM memory writer (`*.partial`) are never reused.
async function sweepSnapshotStaging(ctx: HostContext): Promise<string[]> {
  const removed: string[] = [];
  const root = join(ctx.paths.stateDir, 'snapshots');
  let names: string[] = [];
  try {
    names = await readdir(root);
  } catch {
    return removed;
  }
  for (const name of names) {
    const vmDir = join(root, name);
    for (const inner of await readdir(vmDir).catch(() => [] as string[])) {
      if (isStagingLeftover(inner)) {
        await rm(join(vmDir, inner), { recursive: true, force: true });
        removed.push(join(vmDir, inner));
      }
    }
  }
  return removed;
}
