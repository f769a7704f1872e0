import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { closeServer, listen, urlOf } from '../dashboard/listen.ts';
import { ErrorCode, HangarError, NotFoundError } from '../errors/index.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import type { JobKey } from '../signing/job-key.ts';
import type { SnapshotRecord } from '../state/record-schemas.ts';
import { Identifier } from '../validation/identifiers.ts';
import { ARCHIVE_MEDIA_TYPE } from './archive-format.ts';
import { packSnapshot } from './snapshot-archive.ts';
import { ARCHIVE_MAC_TRAILER, archiveMac, checkTransferAuthorization } from './transfer-auth.ts';
import type { ImportAnswer } from './transfer-client.ts';

/** What a host's transfer server reads snapshots from and writes them into (the worker). */
export interface SnapshotShelf {
  /** Runs `send` while the snapshot's files may be read; NotFoundError when the host lacks it. */
  read<T>(snapshotId: string, send: (dir: string, manifest: SnapshotRecord) => Promise<T>): Promise<T>;
  /** Keeps an archive as snapshot `snapshotId` of this host. */
  receive(snapshotId: string, archive: AsyncIterable<Uint8Array>): Promise<ImportAnswer>;
}

/** A running transfer server. */
export interface TransferServer {
  /** The base URL peers reach it at (the advertised one when given). */
  url: string;
  port: number;
  /** Archive bytes sent and received since it started. */
  readonly bytes: { sent: number; received: number };
  close(): Promise<void>;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.Unsigned]: 401,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Validation]: 400,
  [ErrorCode.Transfer]: 400,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.IllegalState]: 409,
  [ErrorCode.Incompatible]: 409,
  [ErrorCode.Capacity]: 507,
};

/**
 * Serves this host's snapshots to the fleet: GET /v1/snapshots/<id> streams one's archive
 * (see snapshot-archive.ts), PUT /v1/snapshots/<id> takes one in. Every request must carry
 * an authorization made with the fleet's job key (transfer-auth.ts); the archive is not
 * encrypted, so across untrusted networks run it over a private link (WireGuard, say).
 */
export async function startTransferServer(options: {
  key: JobKey;
  shelf: SnapshotShelf;
  host: string;
  port: number;
  /** The base URL to advertise (behind NAT or a proxy, say); default what it listens on. */
  advertiseUrl?: string | undefined;
  logger?: Logger;
}): Promise<TransferServer> {
  const log = options.logger ?? silentLogger;
  const bytes = { sent: 0, received: 0 };
  const server = createServer((request, response) => {
    answer(options, bytes, request, response, log).catch((error: unknown) => {
      const hangar = error instanceof HangarError ? error : undefined;
      const status = (hangar && STATUS[hangar.code]) ?? 500;
      if (status === 500) log.error({ err: error, url: request.url }, 'snapshot transfer failed');
      else
        log.warn({ code: hangar?.code, msg: hangar?.message, url: request.url }, 'snapshot transfer refused');
      if (response.headersSent) {
        // Mid-stream: the reader sees a truncated archive and fails its checksum.
        response.destroy();
        return;
      }
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          code: hangar?.code ?? ErrorCode.Internal,
          message: error instanceof Error ? error.message : String(error),
        }),
      );
      // A refused upload's body is read and dropped, so its sender gets this answer, not a reset.
      request.resume();
    });
  });
  const address = await listen(server, options.host, options.port);
  const url = (options.advertiseUrl ?? urlOf(address)).replace(/\/+$/, '');
  log.info({ url }, 'snapshot transfer listening');
  return { url, port: address.port, bytes, close: () => closeServer(server) };
}

async function answer(
  options: { key: JobKey; shelf: SnapshotShelf },
  bytes: { sent: number; received: number },
  request: IncomingMessage,
  response: ServerResponse,
  log: Logger,
): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://transfer').pathname;
  const snapshotId = /^\/v1\/snapshots\/([a-z0-9-]{1,40})$/.exec(path)?.[1];
  if (snapshotId === undefined || !Identifier.safeParse(snapshotId).success) {
    throw new NotFoundError(`no such path ${path}: snapshots are at /v1/snapshots/<id>`);
  }
  checkTransferAuthorization(options.key, request.method ?? '', path, request.headers.authorization);
  if (request.method === 'GET') {
    await options.shelf.read(snapshotId, async (dir, manifest) => {
      response.writeHead(200, {
        'content-type': ARCHIVE_MEDIA_TYPE,
        'x-hangar-bytes-used': String(manifest.memoryBytes + manifest.diskBytes),
        trailer: ARCHIVE_MAC_TRAILER,
      });
      const counted = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          bytes.sent += chunk.length;
          done(null, chunk);
        },
      });
      let digest: Buffer | undefined;
      const archive = packSnapshot(dir, manifest, (value) => {
        digest = value;
      });
      await pipeline(Readable.from(archive), counted, response, { end: false });
      // The MAC goes last, once the checksum it covers is known.
      response.addTrailers({ [ARCHIVE_MAC_TRAILER]: archiveMac(options.key, snapshotId, digest!) });
      response.end();
      log.info({ snapshotId }, 'snapshot sent');
    });
    return;
  }
  if (request.method === 'PUT') {
    const counted = request.map((chunk: Buffer) => {
      bytes.received += chunk.length;
      return chunk;
    });
    const answered = await options.shelf.receive(snapshotId, counted);
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answered));
    return;
  }
  response.writeHead(405, { allow: 'GET, PUT', 'content-type': 'application/json' });
  response.end(JSON.stringify({ code: ErrorCode.Validation, message: 'GET or PUT only' }));
}
