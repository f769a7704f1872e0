import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostContext } from './host-context.ts';
import { removeSnapshotNow } from './operations/delete-snapshot.ts';
import { readManifest, SNAPSHOT_MANIFEST } from './operations/snapshot.ts';

/** What one garbage-collection pass did. */
export interface SnapshotGcReport {
  /** Directories no ledger entry owns (a job that died before recording its snapshot). */
  removedDirs: string[];
  /** Records of this host's snapshots whose files are gone. */
  removedRecords: string[];
  /** Records Redis lost, written again from their manifests. */
  republished: string[];
  /** Copies of snapshots homed elsewhere whose snapshot was deleted there. */
  removedCopies: string[];
}

/**
 * Collects this host's snapshot garbage: directories that no ledger entry owns (and are
 * not being written by a snapshot in progress), ledger entries and records whose files are
 * gone, records Redis lost (written again from the manifest on disk, when this host is the
 * snapshot's home), and copies of snapshots that their home deleted. Safe while jobs
 * run: a snapshot being written is owned by its sandbox's `snapshotting` entry, and a
 * restore reads only what the ledger owns.
 */
export async function collectSnapshotGarbage(ctx: HostContext): Promise<SnapshotGcReport> {
  const report: SnapshotGcReport = {
    removedDirs: [],
    removedRecords: [],
    republished: [],
    removedCopies: [],
  };
  const root = join(ctx.paths.stateDir, 'snapshots');
  const writing = new Set(
    ctx.ledger
      .entries()
      .filter((entry) => entry.state === 'snapshotting' && entry.snapshotId !== undefined)
      .map((entry) => entry.snapshotId!),
  );
  const owned = new Set([...ctx.ledger.snapshots(), ...writing]);
  const onDisk = new Set<string>();
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const id = name.replace(/\.partial$/, '');
    // Owned, or being received (a move's fetch, an import) or deleted right now.
    if (owned.has(id) || ctx.snapshotLocks.busy(id)) {
      onDisk.add(id);
      continue;
    }
    await rm(join(root, name), { recursive: true, force: true });
    report.removedDirs.push(name);
  }
  for (const id of ctx.ledger.snapshots()) {
    const manifest = onDisk.has(id)
      ? await readManifest(join(root, id, SNAPSHOT_MANIFEST)).catch(() => undefined)
      : undefined;
    if (manifest === undefined) {
      // Its files are gone (or never finished): nothing can restore it.
      await ctx.snapshotLocks.write(id, async () => {
        const record = await ctx.store.getSnapshot(id).catch(() => undefined);
        if (record !== undefined) await ctx.store.snapshots.remove(record);
        await ctx.ledger.removeSnapshot(id);
      });
      report.removedRecords.push(id);
    } else if ((await ctx.store.getSnapshot(id).catch(() => undefined)) === undefined) {
      if (manifest.hostId === ctx.hostId) {
        await ctx.store.putSnapshot(manifest);
        report.republished.push(id);
      } else {
        // A copy: its home deleted the snapshot, so the copy must not bring it back.
        await ctx.snapshotLocks.write(id, async () => {
          if ((await ctx.store.getSnapshot(id)) === undefined) await removeSnapshotNow(ctx, id);
        });
        report.removedCopies.push(id);
      }
    }
  }
  for (const record of await ctx.store.listSnapshots({ hostId: ctx.hostId }, 10_000)) {
    if (owned.has(record.snapshotId)) continue;
    await ctx.store.snapshots.remove(record);
    report.removedRecords.push(record.snapshotId);
  }
  const total =
    report.removedDirs.length +
    report.removedRecords.length +
    report.republished.length +
    report.removedCopies.length;
  if (total > 0) ctx.log.info({ ...report }, 'snapshot garbage collected');
  return report;
}
