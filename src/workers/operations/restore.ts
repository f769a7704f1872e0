import { join } from 'node:path';
import { IllegalStateError, IncompatibleError, NotFoundError } from '../../errors/index.ts';
import type { SandboxResult } from '../../queues/job-results.ts';
import type { PayloadOf } from '../../queues/job-schemas.ts';
import type { LedgerEntry } from '../../state/host-ledger.ts';
import type { SnapshotRecord } from '../../state/record-schemas.ts';
import { missingCpuFlags } from '../../vmm/host-cpu.ts';
import type { HostContext } from '../host-context.ts';
import { sandboxBuildSteps } from './build-sandbox.ts';
import { refuseReuse, summary } from './create.ts';
import { type OperationRun, type Reported, runOperationSteps } from './operation.ts';
import { baseOf } from './sandbox-resources.ts';

/**
 * restore: a new sandbox from a snapshot on this host: slot + network, a disk that starts
 * as the snapshot's disk copy, and a VMM restored from the snapshot's memory. Every guest
 * has the same address and MAC, so the memory state works in any slot.
 */
export function restoreSandbox(
  ctx: HostContext,
  payload: PayloadOf<'restore'>,
  run: OperationRun,
): Promise<Reported<SandboxResult>> {
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

/**
 * A snapshot restores only on a host whose CPU has every flag the snapshot was taken with
 * and whose VMM is of its kind, no older than the one that wrote it: otherwise the guest
 * would meet instructions or a state format its host lacks. The error names what is missing.
 */
export function assertCompatible(ctx: HostContext, snapshot: SnapshotRecord): void {
  const compat = snapshot.compat;
  if (compat === undefined) return;
  const missing = missingCpuFlags(compat.cpuFlags, ctx.cpu.flags);
  if (missing.length > 0) {
    throw new IncompatibleError(
      `snapshot ${snapshot.snapshotId} cannot be restored on host ${ctx.hostId}: its CPU lacks ${missing.join(', ')} (taken on ${compat.cpuModel})`,
      { snapshotId: snapshot.snapshotId, hostId: ctx.hostId, missingFlags: missing },
    );
  }
  const vmm = ctx.backend.info;
  if (vmm.kind !== compat.vmm.kind || compareVersions(vmm.version, compat.vmm.version) < 0) {
    throw new IncompatibleError(
      `snapshot ${snapshot.snapshotId} was written by ${compat.vmm.kind} ${compat.vmm.version}; host ${ctx.hostId} runs ${vmm.kind} ${vmm.version}`,
      {
        snapshotId: snapshot.snapshotId,
        hostId: ctx.hostId,
        needs: compat.vmm,
        has: { kind: vmm.kind, version: vmm.version },
      },
    );
  }
}

// Numeric parts compared in order ("53.0.0" > "52.1"); anything else compares equal.
function compareVersions(a: string, b: string): number {
  const parts = (version: string) => (/\d+(\.\d+)*/.exec(version)?.[0] ?? '0').split('.').map(Number);
  const [x, y] = [parts(a), parts(b)];
  for (let index = 0; index < Math.max(x.length, y.length); index += 1) {
    const difference = (x[index] ?? 0) - (y[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}
