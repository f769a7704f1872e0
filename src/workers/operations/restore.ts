import { join } from 'node:path';
import { IllegalStateError, NotFoundError } from '../../errors/index.ts';
import type { SandboxResult } from '../../queues/job-results.ts';
import type { PayloadOf } from '../../queues/job-schemas.ts';
import type { LedgerEntry } from '../../state/host-ledger.ts';
import type { SnapshotRecord } from '../../state/record-schemas.ts';
import { incompatibility } from '../../state/snapshot-compat.ts';
import type { HostContext } from '../host-context.ts';
import { fetchSnapshotCopy } from '../snapshot-shelf.ts';
import { sandboxBuildSteps } from './build-sandbox.ts';
import { refuseReuse, summary } from './create.ts';
import { type OperationRun, type Reported, runOperationSteps } from './operation.ts';
import { baseOf } from './sandbox-resources.ts';

/**
 * restore: a new sandbox from a snapshot: slot + network, a disk that starts as the
 * snapshot's disk copy, and a VMM restored from the snapshot's memory. Every guest has the
 * same address and MAC, so the memory state works in any slot. A snapshot homed on another
 * host is fetched from it first (a move), once: later restores here use the copy.
 */
export async function restoreSandbox(
  ctx: HostContext,
  payload: PayloadOf<'restore'>,
  run: OperationRun,
): Promise<Reported<SandboxResult>> {
  // A snapshot this host holds restores at once: only a missing one costs a look at its record.
  if (!ctx.ledger.hasSnapshot(payload.snapshotId)) {
    const home = await ctx.store.getSnapshot(payload.snapshotId);
    if (home !== undefined && home.hostId !== ctx.hostId) {
      // Checked before a byte moves: an incompatible host would fetch it for nothing.
      assertCompatible(ctx, home);
      await runOperationSteps(run, [{ name: 'fetch', run: () => fetchSnapshotCopy(ctx, home) }]);
    }
  }
  // Its files must not go while it is read (a delete waits); forks of one snapshot read together.
  return ctx.snapshotLocks.read(payload.snapshotId, () => restoreUnderLock(ctx, payload, run));
}

async function restoreUnderLock(
  ctx: HostContext,
  payload: PayloadOf<'restore'>,
  run: OperationRun,
): Promise<Reported<SandboxResult>> {
  const existing = ctx.ledger.get(payload.sandboxId);
  if (existing !== undefined && existing.state !== 'restoring') {
    if (
      existing.fromSnapshot === payload.snapshotId &&
      (existing.state === 'running' || existing.state === 'paused')
    ) {
      return summary(existing, 'already');
    }
    throw new IllegalStateError(`sandbox ${payload.sandboxId} exists and is ${existing.state}`);
  }
  if (existing === undefined) await refuseReuse(ctx, payload.sandboxId);
  const snapshot = await ctx.store.getSnapshot(payload.snapshotId);
  if (snapshot === undefined || !ctx.ledger.hasSnapshot(payload.snapshotId)) {
    throw new NotFoundError(`snapshot ${payload.snapshotId} is not on host ${ctx.hostId}`, {
      snapshotId: payload.snapshotId,
    });
  }
  assertCompatible(ctx, snapshot);
  const dir = ctx.paths.snapshotDir(payload.snapshotId);
  const initial: LedgerEntry = existing ?? {
    sandboxId: payload.sandboxId,
    state: 'restoring',
    template: snapshot.template,
    vcpus: snapshot.vcpus,
    memoryMib: snapshot.memoryMib,
    labels: payload.labels,
    fromSnapshot: payload.snapshotId,
    createdAt: new Date().toISOString(),
  };
  const vm = ctx.vms.get(payload.sandboxId);
  const build = sandboxBuildSteps(ctx, initial, {
    building: 'restoring',
    jobId: run.jobId,
    disk: (entry) => ctx.disks.createFromCow(entry.sandboxId, baseOf(ctx, entry), join(dir, 'disk.cow')),
    vm: (spec) => vm.restoreFrom(join(dir, 'vm'), spec, { resume: payload.resume }),
    final: payload.resume ? 'running' : 'paused',
    inheritsMemory: true,
  });
  await runOperationSteps(run, build.steps);
  return summary(build.entry(), 'done');
}

/** Throws IncompatibleError, naming what is missing, unless this host can restore the snapshot. */
export function assertCompatible(ctx: HostContext, snapshot: SnapshotRecord): void {
  const problem = incompatibility(snapshot, {
    hostId: ctx.hostId,
    cpuFlags: ctx.cpu.flags,
    vmmKind: ctx.backend.info.kind,
    vmmVersion: ctx.backend.info.version,
  });
  if (problem !== undefined) throw problem;
}
