import { TransferError } from '../errors/index.ts';
import { SnapshotRecord } from '../state/record-schemas.ts';

/**
 * hangar's snapshot archive: what a move streams between workers and what `hangar snapshot
 * export` writes. It is framed so a reader learns the snapshot (its manifest) before its
 * bytes, and knows where the data ends:
 *
 *   "HANGAR-SNAPSHOT 1\n"
 *   frame: the manifest (the snapshot's record as JSON)
 *   frames: a GNU tar of the snapshot directory, sparse (holes found with SEEK_HOLE, so an
 *           8 GiB memory file holding 200 MiB is about 200 MiB here)
 *   an empty frame
 *   32 bytes: SHA-256 of every frame's payload in order
 *
 * A frame is a 4-byte big-endian length and that many bytes.
 */
export const ARCHIVE_MAGIC = Buffer.from('HANGAR-SNAPSHOT 1\n');

/** Media type of the archive over HTTP. */
export const ARCHIVE_MEDIA_TYPE = 'application/vnd.hangar.snapshot';

/** The largest frame a reader accepts (tar writes 10 KiB records; pipes give at most 64 KiB). */
export const MAX_FRAME = 16 * 1024 * 1024;

/** The largest manifest a reader accepts. */
export const MAX_MANIFEST = 64 * 1024;

/**
 * The manifest at the head of an archive, and the whole archive still to be read (the head
 * included), so a caller can choose where to send it before sending it.
 */
export async function splitManifest(
  source: AsyncIterable<Uint8Array>,
): Promise<{ manifest: SnapshotRecord; archive: AsyncIterable<Uint8Array> }> {
  const chunks = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  const need = () =>
    head.length < ARCHIVE_MAGIC.length + 4
      ? ARCHIVE_MAGIC.length + 4
      : ARCHIVE_MAGIC.length + 4 + head.readUInt32BE(ARCHIVE_MAGIC.length);
  while (head.length < need()) {
    const next = await chunks.next();
    if (next.done) throw new TransferError('snapshot archive ends before its manifest');
    head = Buffer.concat([head, next.value]);
    if (
      head.length >= ARCHIVE_MAGIC.length &&
      !head.subarray(0, ARCHIVE_MAGIC.length).equals(ARCHIVE_MAGIC)
    ) {
      throw new TransferError('not a hangar snapshot archive (bad magic)');
    }
    if (head.length >= ARCHIVE_MAGIC.length + 4 && head.readUInt32BE(ARCHIVE_MAGIC.length) > MAX_MANIFEST) {
      throw new TransferError('snapshot archive manifest is too large');
    }
  }
  const manifest = parseManifest(head.subarray(ARCHIVE_MAGIC.length + 4, need()));
  async function* archive(): AsyncGenerator<Uint8Array> {
    yield head;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  }
  return { manifest, archive: archive() };
}

export function parseManifest(bytes: Buffer): SnapshotRecord {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString());
  } catch {
    throw new TransferError('snapshot archive manifest is not JSON');
  }
  const parsed = SnapshotRecord.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TransferError(
      `snapshot archive manifest is invalid: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}
