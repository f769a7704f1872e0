import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, IllegalStateError } from '../../errors/index.ts';
import type { SnapshotResult } from '../../queues/job-results.ts';
import type { PayloadOf } from '../../queues/job-schemas.ts';
import { parseStrict } from '../../state/fleet-store.ts';
import { resourceIdOf } from '../../state/host-ledger.ts';
import { SnapshotRecord } from '../../state/record-schemas.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { readFileIfExists } from '../../util/read-file-if-exists.ts';
import { diskUsage } from '../../vmm/snapshot-dir.ts';
import { fileBytes } from '../admission.ts';
import type { HostContext } from '../host-context.ts';
import { setSandboxState } from '../sandbox-records.ts';
import { type OperationRun, type Reported, runOperationSteps } from './operation.ts';
import { requireEntry } from './pause-resume.ts';
import { vmOf } from './sandbox-resources.ts';

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
): Promise<Reported<SnapshotResult>> {
  let entry = await requireEntry(ctx, payload.sandboxId);
  const dir = ctx.paths.snapshotDir(payload.snapshotId);
  const manifest = join(dir, SNAPSHOT_MANIFEST);
  const owner = await ctx.store.getSnapshot(payload.snapshotId);
  if (owner !== undefined && owner.sandboxId !== entry.sandboxId) {
    throw new ConflictError(`snapshot id ${payload.snapshotId} belongs to sandbox ${owner.sandboxId}`, {
      snapshotId: payload.snapshotId,
      owner: owner.sandboxId,
    });
  }
  // A finished snapshot (its manifest written) is not taken again, but every step after it
  // still runs: the record, the ledger, and the sandbox back in its prior state.
  let written = await readManifest(manifest);
  if (written !== undefined && written.sandboxId !== entry.sandboxId) {
    throw new ConflictError(`snapshot id ${payload.snapshotId} belongs to sandbox ${written.sandboxId}`, {
      snapshotId: payload.snapshotId,
      owner: written.sandboxId,
    });
  }
  const prior = entry.state === 'snapshotting' ? (entry.priorState ?? 'paused') : entry.state;
  if (prior !== 'running' && prior !== 'paused') {
    throw new IllegalStateError(`cannot snapshot sandbox ${entry.sandboxId}: it is ${entry.state}`);
  }
  const vm = vmOf(ctx, entry);
  const backTo = prior === 'running' && payload.resumeAfter ? 'running' : 'paused';
  const rollbackDir = () => rm(dir, { recursive: true, force: true });
  await runOperationSteps(run, [
    {
      name: 'mark',
      run: async () =>
        (entry = await setSandboxState(
          ctx,
          { ...entry, priorState: prior, jobId: run.jobId, snapshotId: payload.snapshotId },
          'snapshotting',
        )),
      undo: async () => (entry = await setSandboxState(ctx, { ...entry, priorState: undefined }, prior)),
    },
    {
      name: 'pause',
      run: async () => (written === undefined ? vm.ensurePaused() : undefined),
      undo: async () => (prior === 'running' ? vm.ensureResumed() : undefined),
    },
    {
      name: 'disk-space',
      run: async () => {
        if (written !== undefined) return;
        const diskBytes = await fileBytes(ctx.templates.get(entry.template).imagePath);
        await ctx.admission.checkDisk(
          ctx,
          entry.memoryMib * 1024 * 1024 + diskBytes,
          `snapshot ${payload.snapshotId}`,
        );
      },
    },
    {
      name: 'memory',
      run: async () => (written === undefined ? vm.snapshotTo(join(dir, 'vm')) : undefined),
      undo: rollbackDir,
    },
    {
      name: 'disk',
      run: async () =>
        written === undefined ? ctx.disks.copyCow(resourceIdOf(entry), join(dir, 'disk.cow')) : undefined,
    },
    {
      name: 'record',
      run: async () => {
        if (written === undefined) {
          const record: SnapshotRecord = {
            snapshotId: payload.snapshotId,
            sandboxId: entry.sandboxId,
            hostId: ctx.hostId,
            template: entry.template,
            vcpus: entry.vcpus,
            memoryMib: entry.memoryMib,
            memoryBytes: await diskUsage(join(dir, 'vm')),
            diskBytes: (await stat(join(dir, 'disk.cow'))).blocks * 512,
            labels: entry.labels,
            ...(payload.batchId === undefined ? {} : { batchId: payload.batchId }),
            ...(payload.groupId === undefined ? {} : { groupId: payload.groupId }),
            ...(payload.series === undefined ? {} : { series: payload.series }),
            compat: {
              cpuModel: ctx.cpu.model,
              cpuFlags: ctx.cpu.flags,
              vmm: { kind: ctx.backend.info.kind, version: ctx.backend.info.version },
            },
            createdAt: new Date().toISOString(),
          };
          await writeFileAtomic(manifest, `${JSON.stringify(record, null, 2)}\n`);
          written = record;
        }
        await ctx.ledger.addSnapshot(payload.snapshotId);
        await ctx.store.putSnapshot(written);
      },
    },
    { name: 'restore-state', run: async () => (backTo === 'running' ? vm.ensureResumed() : undefined) },
    {
      name: 'done',
      run: async () =>
        (entry = await setSandboxState(
          ctx,
          { ...entry, priorState: undefined },
          backTo,
          {},
          { atFinish: true },
        )),
    },
  ]);
  return {
    outcome: 'done',
    snapshotId: payload.snapshotId,
    sandboxId: entry.sandboxId,
    memoryBytes: written!.memoryBytes,
    diskBytes: written!.diskBytes,
  };
}

/** The manifest of a finished snapshot, if there is one; a corrupt one is E_CORRUPT_STATE. */
/** A snapshot directory's manifest (its record as written with it), if it has one. */
export async function readManifest(path: string): Promise<SnapshotRecord | undefined> {
  const text = await readFileIfExists(path);
  return text === undefined ? undefined : parseStrict(SnapshotRecord, path, text);
}
