import { createHmac, timingSafeEqual } from 'node:crypto';
import { TransferError, UnsignedJobError } from '../errors/index.ts';
import type { JobKey } from '../signing/job-key.ts';

/** How far a request's time may be from the server's: a captured header is useless after this. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

const SCHEME = 'HangarHMAC';

/** Versioned and apart from job signatures', so neither can stand in for the other. */
const DOMAIN = 'hangar-transfer-v1\n';

function mac(key: JobKey, method: string, path: string, at: number): Buffer {
  return createHmac('sha256', key.bytes).update(`${DOMAIN}${method}\n${path}\n${at}`).digest();
}

/**
 * The Authorization header of a snapshot transfer request: HMAC-SHA-256 with the fleet's
 * job key over the method, the path and the time, so only holders of the key read or write
 * a host's snapshots, and a captured header serves only that request, briefly.
 */
export function transferAuthorization(key: JobKey, method: string, path: string, at = Date.now()): string {
  return `${SCHEME} keyId=${key.keyId}, at=${at}, mac=${mac(key, method, path, at).toString('base64url')}`;
}

/** Throws UnsignedJobError unless `header` authorizes `method path` with `key`, now. */
export function checkTransferAuthorization(
  key: JobKey,
  method: string,
  path: string,
  header: string | undefined,
  now = Date.now(),
): void {
  const match = /^HangarHMAC keyId=([0-9a-f]{16}), at=(\d{1,15}), mac=([A-Za-z0-9_-]{43})$/.exec(
    header ?? '',
  );
  if (match === null) {
    throw new UnsignedJobError(
      `${method} ${path}: no ${SCHEME} authorization (sign it with the fleet's job key)`,
    );
  }
  const [, keyId, atText, given] = match as unknown as [string, string, string, string];
  const at = Number(atText);
  if (Math.abs(now - at) > MAX_CLOCK_SKEW_MS) {
    throw new UnsignedJobError(
      `${method} ${path}: authorization made at ${new Date(at).toISOString()}, more than ${MAX_CLOCK_SKEW_MS / 60_000} min from this host's clock`,
    );
  }
  const expected = mac(key, method, path, at);
  const actual = Buffer.from(given, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new UnsignedJobError(
      `${method} ${path}: authorization does not match (signed with key ${keyId}; this host's is ${key.keyId})`,
      { keyId, expectedKeyId: key.keyId },
    );
  }
}

/** The trailer a transfer server sends after an archive: its MAC (see archiveMac). */
export const ARCHIVE_MAC_TRAILER = 'x-hangar-archive-mac';

/**
 * A MAC of an archive's checksum and snapshot id with the job key, sent by the serving host
 * after the archive: a fetching host keeps only an archive a key holder sent, so a forged
 * heartbeat or record pointing it at another server cannot hand it a guest's memory.
 */
export function archiveMac(key: JobKey, snapshotId: string, digest: Buffer): string {
  return createHmac('sha256', key.bytes)
    .update(`hangar-archive-v1\n${snapshotId}\n${digest.toString('hex')}`)
    .digest('base64url');
}

/** Throws TransferError unless `mac` is the archive's MAC with `key`. */
export function checkArchiveMac(
  key: JobKey,
  snapshotId: string,
  digest: Buffer,
  mac: string | undefined,
): void {
  const expected = Buffer.from(archiveMac(key, snapshotId, digest));
  const actual = Buffer.from(mac ?? '');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new TransferError(
      `the archive of snapshot ${snapshotId} is not signed with this fleet's job key (${mac === undefined ? 'no MAC' : 'MAC does not match'})`,
      { snapshotId },
    );
  }
}
