import { join } from 'node:path';
import { ConflictError, IllegalStateError, NotFoundError, TransferError } from '../errors/index.ts';
import type { SnapshotRecord } from '../state/record-schemas.ts';
import { type UnpackedSnapshot, unpackSnapshot } from '../transfer/snapshot-archive.ts';
import { checkArchiveMac } from '../transfer/transfer-auth.ts';
import { downloadSnapshot, type ImportAnswer } from '../transfer/transfer-client.ts';
import type { SnapshotShelf } from '../transfer/transfer-server.ts';
import { writeFileAtomic } from '../util/atomic-write.ts';
import { isCompleteSnapshot, writeSnapshotAtomically } from '../vmm/snapshot-dir.ts';
import type { HostContext } from './host-context.ts';
import { readManifest, SNAPSHOT_MANIFEST } from './operations/snapshot.ts';

/** The files every whole snapshot directory has, whatever its VMM. */
const SNAPSHOT_FILES = [SNAPSHOT_MANIFEST, 'disk.cow', 'vm'];

/**
 * How a received archive is kept: `import` makes this host the snapshot's home (its record
 * names this host; `hangar snapshot import`), `copy` keeps a copy of a snapshot whose home
 * is another host (a restore here of a snapshot taken there). A copy goes when its
 * snapshot's record does (snapshot-gc.ts).
 */
export type ReceiveMode = 'import' | 'copy';

/** This host's snapshots as its transfer server reads and writes them. */
export function snapshotShelf(ctx: HostContext): SnapshotShelf {
  return {
    read: (snapshotId, send) =>
      ctx.snapshotLocks.read(snapshotId, async () => {
        const dir = ctx.paths.snapshotDir(snapshotId);
        const manifest = ctx.ledger.hasSnapshot(snapshotId)
          ? await readManifest(join(dir, SNAPSHOT_MANIFEST))
          : undefined;
        if (manifest === undefined) {
          throw new NotFoundError(`snapshot ${snapshotId} is not on host ${ctx.hostId}`, { snapshotId });
        }
        return send(dir, manifest);
      }),
    receive: (snapshotId, archive) => receiveSnapshot(ctx, snapshotId, async () => ({ archive }), 'import'),
  };
}

/**
 * Fetches a copy of a snapshot from its home host's transfer server, unless this host has
 * it. Both ways authenticated with the fleet's job key (the request's HMAC, and the archive's
 * MAC in the response's trailer); the archive's checksum and MAC are verified before the copy
 * is kept, and a failed fetch leaves nothing (a retry starts over).
 */
export async function fetchSnapshotCopy(ctx: HostContext, record: SnapshotRecord): Promise<ImportAnswer> {
  if (ctx.jobKey === undefined) {
    throw new IllegalStateError(
      `host ${ctx.hostId} cannot fetch snapshot ${record.snapshotId} from host ${record.hostId}: transfers are authenticated with the fleet's job key, and this worker has none`,
      { snapshotId: record.snapshotId },
    );
  }
  const key = ctx.jobKey;
  return receiveSnapshot(
    ctx,
    record.snapshotId,
    async () => {
      const source = await ctx.store.hosts.heartbeatOf(record.hostId);
      if (source === undefined) {
        throw new TransferError(`host ${record.hostId}, home of snapshot ${record.snapshotId}, is not live`, {
          snapshotId: record.snapshotId,
          hostId: record.hostId,
        });
      }
      if (source.transferUrl === undefined) {
        throw new IllegalStateError(
          `host ${record.hostId} serves no snapshots: start its worker with a transfer port (--transfer-port)`,
          { snapshotId: record.snapshotId, hostId: record.hostId },
        );
      }
      const download = await downloadSnapshot(source.transferUrl, key, record.snapshotId);
      return {
        archive: download.body,
        // Only an archive a holder of the key sent is kept (not one from a forged heartbeat's URL).
        verify: (unpacked) => checkArchiveMac(key, record.snapshotId, unpacked.digest, download.mac()),
      };
    },
    'copy',
  );
}

/**
 * Keeps an archive as snapshot `snapshotId` of this host: under the snapshot's write lock,
 * unless the host has it already; the archive opened only then. The files land in a staging
 * directory renamed into place once the checksum holds; the ledger then owns them and, for
 * an import, the fleet's record names this host.
 */
export async function receiveSnapshot(
  ctx: HostContext,
  snapshotId: string,
  open: () => Promise<{
    archive: AsyncIterable<Uint8Array>;
    /** Checks the unpacked archive before it is kept (throws to refuse it). */
    verify?: (unpacked: UnpackedSnapshot) => void;
  }>,
  mode: ReceiveMode,
): Promise<ImportAnswer> {
  return ctx.snapshotLocks.write(snapshotId, async () => {
    const dir = ctx.paths.snapshotDir(snapshotId);
    const record = await ctx.store.getSnapshot(snapshotId);
    if (mode === 'import' && record !== undefined && record.hostId !== ctx.hostId) {
      throw new ConflictError(
        `snapshot ${snapshotId} exists on host ${record.hostId}: import the archive under another id`,
        { snapshotId, hostId: record.hostId },
      );
    }
    if (ctx.ledger.hasSnapshot(snapshotId)) {
      const held = await readManifest(join(dir, SNAPSHOT_MANIFEST)).catch(() => undefined);
      if (held !== undefined && (await isCompleteSnapshot(dir, SNAPSHOT_FILES))) {
        if (mode === 'import' && record === undefined) await ctx.store.putSnapshot(held);
        return { snapshot: held, outcome: 'already', archiveBytes: 0 };
      }
    }
    const { archive, verify } = await open();
    let kept: SnapshotRecord | undefined;
    let archiveBytes = 0;
    await writeSnapshotAtomically(dir, async (staging) => {
      const unpacked = await unpackSnapshot(archive, staging, async (manifest) => {
        if (mode === 'copy' && manifest.snapshotId !== snapshotId) {
          throw new TransferError(
            `asked for snapshot ${snapshotId}, got an archive of ${manifest.snapshotId}`,
          );
        }
        await ctx.admission.checkDisk(
          ctx,
          manifest.memoryBytes + manifest.diskBytes,
          `snapshot ${snapshotId}`,
        );
      });
      verify?.(unpacked);
      if (!(await isCompleteSnapshot(staging, SNAPSHOT_FILES))) {
        throw new TransferError(`the archive of snapshot ${snapshotId} lacks ${SNAPSHOT_FILES.join(' or ')}`);
      }
      // An import may rename it and makes this host its home; a copy keeps its record as is.
      kept = mode === 'import' ? { ...unpacked.manifest, snapshotId, hostId: ctx.hostId } : unpacked.manifest;
      archiveBytes = unpacked.bytes;
      await writeFileAtomic(join(staging, SNAPSHOT_MANIFEST), `${JSON.stringify(kept, null, 2)}\n`);
    }).catch(async (error: unknown) => {
      // Whatever stopped the unpack, the peer's stream must not stay open.
      (archive as { destroy?: () => void }).destroy?.();
      throw error;
    });
    await ctx.ledger.addSnapshot(snapshotId);
    if (mode === 'import') await ctx.store.putSnapshot(kept!);
    ctx.log.info({ snapshotId, mode, archiveBytes }, 'snapshot received');
    return { snapshot: kept!, outcome: 'done', archiveBytes };
  });
}
