import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.ts';
import { resourceIdOf } from '../state/host-ledger.ts';
import { removeAtomicWriteTemps } from '../util/atomic-write.ts';
import { killUnownedVmms } from '../vmm/index.ts';
import { isStagingLeftover } from '../vmm/snapshot-dir.ts';
import type { HostContext } from './host-context.ts';
import { baseOf, vmOf } from './operations/sandbox-resources.ts';
import { publishRecord, setSandboxState, TRANSITIONAL } from './sandbox-records.ts';
import { settleEntry } from './settle.ts';

/** What a startup reconcile found and did. */
export interface ReconcileReport {
  reattached: string[];
  crashed: string[];
  /** Transitional entries whose job is gone, rolled back or finished. */
  settled: string[];
  killedVmms: string[];
  sweptDisks: string[];
  sweptStaging: string[];
  sweptSnapshots: string[];
  sweptRunDirs: string[];
  sweptTemps: string[];
  /** Pool VMs kept (ready, their VMM alive) and removed. */
  pool?: { kept: string[]; removed: string[] };
}

/**
 * Brings the machine in line with the ledger after a (re)start, in wrenn's order: entries a
 * job left half-done are settled unless that job can still run; VMMs of running/paused
 * sandboxes are re-attached, dead ones marked crashed; then VMM processes, disks, runtime
 * and snapshot directories and temp files that no entry owns are removed; every record is
 * republished. The caller holds the host's lease, so no other worker acts here meanwhile.
 */
export async function reconcileHost(ctx: HostContext, log: Logger): Promise<ReconcileReport> {
  const report: ReconcileReport = {
    reattached: [],
    crashed: [],
    settled: [],
    killedVmms: [],
    sweptDisks: [],
    sweptStaging: [],
    sweptSnapshots: [],
    sweptRunDirs: [],
    sweptTemps: [],
  };
  for (const entry of ctx.ledger.entries()) {
    if (TRANSITIONAL.has(entry.state)) {
      if (entry.jobId !== undefined && (await ctx.jobLive(entry.jobId))) {
        // Its job runs again and its ensures converge from wherever it stopped.
        await publishRecord(ctx, entry);
      } else {
        await settleEntry(ctx, entry, log);
        report.settled.push(entry.sandboxId);
      }
      continue;
    }
    const vm = vmOf(ctx, entry);
    const live = await vm.reattach();
    if (live && (entry.state === 'running' || entry.state === 'paused')) {
      report.reattached.push(entry.sandboxId);
      await ctx.disks.restore(resourceIdOf(entry), baseOf(ctx, entry)).catch((error) => {
        log.warn({ err: error, sandboxId: entry.sandboxId }, 'disk restore on reconcile failed');
      });
      await publishRecord(ctx, entry);
    } else if (!live && (entry.state === 'running' || entry.state === 'paused')) {
      report.crashed.push(entry.sandboxId);
      await setSandboxState(ctx, entry, 'crashed');
    } else {
      await publishRecord(ctx, entry);
    }
  }
  // What the ledger owns, by the names its resources carry (a pool VM's, for a sandbox made from one).
  const owned = new Set([
    ...ctx.ledger.entries().map(resourceIdOf),
    ...ctx.ledger.poolEntries().map((entry) => entry.vmId),
  ]);
  const runRoot = join(ctx.paths.stateDir, 'run');
  report.killedVmms = (await killUnownedVmms(runRoot, owned, log)).map((vmm) => vmm.sandboxId);
  report.sweptDisks = (await ctx.disks.sweep(owned)).removed;
  report.sweptStaging = await sweepSnapshotStaging(ctx);
  report.sweptSnapshots = await sweepUnownedDirs(join(ctx.paths.stateDir, 'snapshots'), ownedSnapshots(ctx));
  report.sweptRunDirs = await sweepUnownedDirs(runRoot, owned);
  report.sweptTemps = await removeAtomicWriteTemps(ctx.paths.stateDir, { recursive: true });
  return report;
}

// Snapshots the ledger lists, and the one each snapshotting entry is writing.
function ownedSnapshots(ctx: HostContext): Set<string> {
  const owned = new Set(ctx.ledger.snapshots());
  for (const entry of ctx.ledger.entries()) {
    if (entry.state === 'snapshotting' && entry.snapshotId !== undefined) owned.add(entry.snapshotId);
  }
  return owned;
}

// Directories under `root` named by an id that nobody owns (a job that died before its record).
async function sweepUnownedDirs(root: string, owned: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (owned.has(name) || owned.has(name.replace(/\.partial$/, ''))) continue;
    await rm(join(root, name), { recursive: true, force: true });
    removed.push(join(root, name));
  }
  return removed;
}

// A snapshot interrupted before its manifest is written is garbage unless a retry finishes it;
// staging directories of the VM memory writer (`*.partial`) are never reused.
async function sweepSnapshotStaging(ctx: HostContext): Promise<string[]> {
  const removed: string[] = [];
  const root = join(ctx.paths.stateDir, 'snapshots');
  for (const name of await readdir(root).catch(() => [] as string[])) {
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
