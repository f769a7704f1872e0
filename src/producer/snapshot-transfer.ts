import type { Readable } from 'node:stream';
import { NotFoundError, UnsignedJobError } from '../errors/index.ts';
import type { JobKey } from '../signing/job-key.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import type { HostHeartbeat, SnapshotRecord } from '../state/record-schemas.ts';
import { incompatibilityOn } from '../state/snapshot-compat.ts';
import { splitManifest } from '../transfer/archive-format.ts';
import { downloadSnapshot, type ImportAnswer, uploadSnapshot } from '../transfer/transfer-client.ts';
import { assertIdentifier } from '../validation/identifiers.ts';
import { internalsOf } from './client-internals.ts';
import type { HangarClient } from './hangar-client.ts';
import { NoCapacityError } from './producer-errors.ts';
import { type ServingHost, servingHost } from './serving-host.ts';

/** A snapshot's archive as its host streams it. */
export interface SnapshotExport {
  snapshot: SnapshotRecord;
  /** The archive (see snapshot-archive.ts): read it to the end, or destroy it. */
  archive: Readable;
}

/**
 * Streams a snapshot's archive from its host's transfer server (sparse: holes are not
 * sent), for a backup; `importSnapshot` takes it back, on any host. Needs the fleet's job key.
 */
export async function exportSnapshot(
  client: HangarClient,
  snapshotId: string,
  options: { signal?: AbortSignal } = {},
): Promise<SnapshotExport> {
  const { store, jobKey } = internalsOf(client);
  const key = requireKey(jobKey, 'export');
  const snapshot = await store.getSnapshot(assertIdentifier(snapshotId, 'snapshotId'));
  if (snapshot === undefined) throw new NotFoundError(`no snapshot ${snapshotId}`, { snapshotId });
  const host = await servingHost(store, snapshot.hostId);
  const download = await downloadSnapshot(host.transferUrl, key, snapshotId, options.signal);
  return { snapshot, archive: download.body };
}

/**
 * Sends an archive to a host that keeps it as a snapshot of its own: `hostId`, else the
 * live, compatible host with the most free disk. It keeps the archive's snapshot id unless
 * `snapshotId` renames it; an id taken by a snapshot on another host is E_CONFLICT, and
 * importing the same snapshot twice to its host is 'already'.
 */
export async function importSnapshot(
  client: HangarClient,
  source: AsyncIterable<Uint8Array>,
  options: { hostId?: string; snapshotId?: string } = {},
): Promise<ImportAnswer> {
  const { store, jobKey } = internalsOf(client);
  const key = requireKey(jobKey, 'import');
  const { manifest, archive } = await splitManifest(source);
  const snapshotId =
    options.snapshotId === undefined
      ? manifest.snapshotId
      : assertIdentifier(options.snapshotId, 'snapshotId');
  const host =
    options.hostId === undefined
      ? await importHost(store, manifest)
      : await servingHost(store, assertIdentifier(options.hostId, 'hostId'));
  return uploadSnapshot(host.transferUrl, key, snapshotId, archive);
}

function requireKey(key: JobKey | undefined, what: string): JobKey {
  if (key === undefined) {
    throw new UnsignedJobError(
      `snapshot ${what} needs the fleet's job key: hosts serve snapshots only to requests signed with it (HangarClient's jobKey, or HANGAR_JOB_KEY for the CLI)`,
    );
  }
  return key;
}

async function importHost(store: FleetStore, manifest: SnapshotRecord): Promise<ServingHost> {
  const free = (host: HostHeartbeat) => (host.disk?.freeBytes ?? 0) - (host.disk?.reserveBytes ?? 0);
  const candidates = (await store.hosts.liveHosts())
    .filter(
      (host): host is ServingHost =>
        host.transferUrl !== undefined && host.templates.includes(manifest.template),
    )
    .filter((host) => incompatibilityOn(manifest, host) === undefined)
    .sort((a, b) => free(b) - free(a));
  if (candidates[0] === undefined) {
    throw new NoCapacityError(
      `no live host can take snapshot ${manifest.snapshotId}: none serves snapshots, its template ${manifest.template} and its CPU flags and VMM`,
      { snapshotId: manifest.snapshotId },
    );
  }
  return candidates[0];
}
