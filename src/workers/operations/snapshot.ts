import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IllegalStateError } from '../../errors/index.ts';
import type { PayloadOf } from '../../queues/job-schemas.ts';
import type { SnapshotRecord } from '../../state/record-schemas.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import type { HostContext } from '../host-context.ts';
import { setSandboxState } from '../sandbox-records.ts';
import { type OperationResult, type OperationRun, runOperationSteps } from './operation.ts';
import { requireEntry } from './pause-resume.ts';

/** The file written last into a snapshot directory: its presence means the snapshot is whole. */
export const SNAPSHOT_MANIFEST = 'snapshot.json';

/**
 * snapshot: pause, write memory + device state, copy the CoW disk (both while paused, so
 * they match), then put the sandbox back as it was. The manifest is written last.
 */
export async function snapshotSandbox(
  ctx: HostContext,
  payload: PayloadOf<'snapshot'>,
  run: OperationRun,
): Promise<OperationResult> {
  let entry = await requireEntry(ctx, payload.sandboxId);
  const dir = ctx.paths.snapshotDir(payload.snapshotId);
  const manifest = join(dir, SNAPSHOT_MANIFEST);
  if (await exists(manifest)) {
    const record = await ctx.store.getSnapshot(payload.snapshotId);
    return { outcome: 'already', snapshotId: payload.snapshotId, sandboxId: entry.sandboxId, ...record };
  }
  const prior = entry.state === 'snapshotting' ? (entry.priorState ?? 'paused') : entry.state;
  if (prior !== 'running' && prior !== 'paused') {
    throw new IllegalStateError(`cannot snapshot sandbox ${entry.sandboxId}: it is ${entry.state}`);
  }
  const vm = ctx.vms.get(entry.sandboxId);
  const backTo = prior === 'running' && payload.resumeAfter ? 'running' : 'paused';
  let memoryBytes = 0;
  let diskBytes = 0;
  const rollbackDir = () => rm(dir, { recursive: true, force: true });
  await runOperationSteps(run, [
    {
      name: 'mark',
      run: async () => (entry = await setSandboxState(ctx, { ...entry, priorState: prior }, 'snapshotting')),
      undo: async () => (entry = await setSandboxState(ctx, { ...entry, priorState: undefined }, prior)),
    },
    {
      name: 'pause',
      run: () => vm.ensurePaused(),
      undo: async () => (prior === 'running' ? vm.ensureResumed() : undefined),
    },
    {
      name: 'memory',
      run: async () => (memoryBytes = (await vm.snapshotTo(join(dir, 'vm'))).diskBytes),
      undo: rollbackDir,
    },
    {
      name: 'disk',
      run: async () =>
        (diskBytes = (await ctx.disks.copyCow(entry.sandboxId, join(dir, 'disk.cow'))).usedBytes),
    },
    {
      name: 'record',
      run: async () => {
        const record: SnapshotRecord = {
          snapshotId: payload.snapshotId,
          sandboxId: entry.sandboxId,
          hostId: ctx.hostId,
          template: entry.template,
          vcpus: entry.vcpus,
          memoryMib: entry.memoryMib,
          memoryBytes,
          diskBytes,
          createdAt: new Date().toISOString(),
        };
        await writeFileAtomic(manifest, `${JSON.stringify(record, null, 2)}\n`);
        await ctx.ledger.addSnapshot(payload.snapshotId);
        await ctx.store.putSnapshot(record);
      },
    },
    { name: 'restore-state', run: async () => (backTo === 'running' ? vm.ensureResumed() : undefined) },
    {
      name: 'done',
      run: async () => (entry = await setSandboxState(ctx, { ...entry, priorState: undefined }, backTo)),
    },
  ]);
  return {
    outcome: 'done',
    snapshotId: payload.snapshotId,
    sandboxId: entry.sandboxId,
    memoryBytes,
    diskBytes,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
