import { Readable } from 'node:stream';
import { request } from 'undici';
import { z } from 'zod';
import { ErrorCode, HangarError, TransferError } from '../errors/index.ts';
import type { JobKey } from '../signing/job-key.ts';
import { SnapshotRecord } from '../state/record-schemas.ts';
import { ARCHIVE_MEDIA_TYPE } from './archive-format.ts';
import { ARCHIVE_MAC_TRAILER, transferAuthorization } from './transfer-auth.ts';

/** The path a host serves a snapshot's archive at (GET) and takes one in at (PUT). */
export function snapshotPath(snapshotId: string): string {
  return `/v1/snapshots/${encodeURIComponent(snapshotId)}`;
}

/** What a transfer server answers a failed request with. */
const ErrorBody = z.object({ code: z.string(), message: z.string() });

/** What it answers an import with. */
export const ImportAnswer = z.object({
  snapshot: SnapshotRecord,
  outcome: z.enum(['done', 'already']),
  /** Archive bytes read (0 when the host had it already). */
  archiveBytes: z.number().int(),
});
export type ImportAnswer = z.infer<typeof ImportAnswer>;

/** A snapshot's archive being read from its host. */
export interface SnapshotDownload {
  body: Readable;
  /** The bytes of the snapshot's files really in use (what the archive carries, about). */
  bytesUsed: number | undefined;
  /** The archive's MAC, from the trailer: known once `body` was read to its end. */
  mac(): string | undefined;
}

/** Asks the host at `baseUrl` for a snapshot's archive; the caller reads (or destroys) `body`. */
export async function downloadSnapshot(
  baseUrl: string,
  key: JobKey,
  snapshotId: string,
  signal?: AbortSignal,
): Promise<SnapshotDownload> {
  const path = snapshotPath(snapshotId);
  const response = await send(baseUrl, path, {
    method: 'GET',
    headers: { authorization: transferAuthorization(key, 'GET', path), accept: ARCHIVE_MEDIA_TYPE },
    ...(signal === undefined ? {} : { signal }),
  });
  if (response.statusCode !== 200) throw await failure(response, `GET ${baseUrl}${path}`);
  const used = Number(response.headers['x-hangar-bytes-used']);
  const trailers = response.trailers as Record<string, string | undefined>;
  return {
    body: response.body,
    bytesUsed: Number.isFinite(used) ? used : undefined,
    mac: () => trailers[ARCHIVE_MAC_TRAILER],
  };
}

/** Sends an archive to the host at `baseUrl`, which keeps it as snapshot `snapshotId`. */
export async function uploadSnapshot(
  baseUrl: string,
  key: JobKey,
  snapshotId: string,
  archive: AsyncIterable<Uint8Array>,
): Promise<ImportAnswer> {
  const path = snapshotPath(snapshotId);
  const response = await send(baseUrl, path, {
    method: 'PUT',
    headers: { authorization: transferAuthorization(key, 'PUT', path), 'content-type': ARCHIVE_MEDIA_TYPE },
    body: Readable.from(archive),
  });
  if (response.statusCode !== 200) throw await failure(response, `PUT ${baseUrl}${path}`);
  const parsed = ImportAnswer.safeParse(await response.body.json());
  if (!parsed.success) throw new TransferError(`PUT ${baseUrl}${path}: the host's answer is malformed`);
  return parsed.data;
}

type Response = Awaited<ReturnType<typeof request>>;

async function send(
  baseUrl: string,
  path: string,
  options: Parameters<typeof request>[1],
): Promise<Response> {
  try {
    return await request(new URL(path, baseUrl), options);
  } catch (error) {
    throw new TransferError(
      `${options?.method} ${baseUrl}${path}: ${error instanceof Error ? error.message : String(error)}`,
      { url: `${baseUrl}${path}` },
      error,
    );
  }
}

// The host's own error, with its code, when it sent one.
async function failure(response: Response, what: string): Promise<HangarError> {
  const text = await response.body.text().catch(() => '');
  let body: z.infer<typeof ErrorBody> | undefined;
  try {
    body = ErrorBody.parse(JSON.parse(text));
  } catch {
    body = undefined;
  }
  const known = body !== undefined && (Object.values(ErrorCode) as string[]).includes(body.code);
  if (known) return new HangarError(body!.code as ErrorCode, `${what}: ${body!.message}`);
  return new TransferError(`${what}: HTTP ${response.statusCode} ${text.slice(0, 200)}`.trim());
}
