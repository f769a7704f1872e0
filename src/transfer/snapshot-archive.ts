import { createHash, type Hash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { execa } from 'execa';
import { TransferError } from '../errors/index.ts';
import type { SnapshotRecord } from '../state/record-schemas.ts';
import { ARCHIVE_MAGIC, MAX_FRAME, MAX_MANIFEST, parseManifest } from './archive-format.ts';

function frame(payload: Buffer, hash: Hash): Buffer[] {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(payload.length);
  hash.update(payload);
  return [length, payload];
}

/**
 * The archive of a snapshot directory (see archive-format.ts), as a stream of chunks. `manifest` is the record it
 * carries up front (the directory's own snapshot.json travels in the tar too).
 */
export async function* packSnapshot(
  dir: string,
  manifest: SnapshotRecord,
  onDigest: (digest: Buffer) => void = () => undefined,
): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  yield ARCHIVE_MAGIC;
  yield* frame(Buffer.from(JSON.stringify(manifest)), hash);
  const tar = execa('tar', ['--create', '--sparse', '--format=gnu', '--file=-', '--directory', dir, '.'], {
    buffer: false,
    stdin: 'ignore',
    stderr: 'pipe',
    reject: false,
  });
  let stderr = '';
  tar.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  for await (const chunk of tar.stdout as Readable) yield* frame(chunk as Buffer, hash);
  const result = await tar;
  if (result.exitCode !== 0) {
    throw new TransferError(`tar of ${dir} failed (exit ${result.exitCode}): ${stderr.trim()}`, { dir });
  }
  yield Buffer.alloc(4);
  const digest = hash.digest();
  onDigest(digest);
  yield digest;
}

/** What reading an archive gave. */
export interface UnpackedSnapshot {
  manifest: SnapshotRecord;
  /** Archive bytes read (what crossed the wire). */
  bytes: number;
  /** The archive's SHA-256, as checked. */
  digest: Buffer;
}

/**
 * Reads an archive into `dir` (which must exist and be empty) and verifies its checksum;
 * `onManifest` sees the manifest before any file is written and may refuse it by throwing.
 * Throws TransferError on a malformed, truncated or corrupt archive, and leaves `dir` to
 * its caller to remove.
 */
export async function unpackSnapshot(
  source: AsyncIterable<Uint8Array>,
  dir: string,
  onManifest: (manifest: SnapshotRecord) => Promise<void> | void = () => undefined,
): Promise<UnpackedSnapshot> {
  const reader = new FrameReader(source);
  const magic = await reader.take(ARCHIVE_MAGIC.length);
  if (magic === undefined || !magic.equals(ARCHIVE_MAGIC)) {
    throw new TransferError('not a hangar snapshot archive (bad magic)');
  }
  const hash = createHash('sha256');
  const manifestFrame = await reader.frame(MAX_MANIFEST);
  if (manifestFrame === undefined || manifestFrame.length === 0) {
    throw new TransferError('snapshot archive has no manifest');
  }
  hash.update(manifestFrame);
  const manifest = parseManifest(manifestFrame);
  await onManifest(manifest);
  const tar = execa(
    'tar',
    ['--extract', '--file=-', '--directory', dir, '--no-same-owner', '--no-same-permissions'],
    { buffer: false, stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', reject: false },
  );
  let stderr = '';
  tar.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const stdin = tar.stdin!;
  let digest = Buffer.alloc(0);
  // tar exiting early (a bad archive) closes its stdin: the error comes from its exit code.
  stdin.on('error', () => undefined);
  try {
    for (;;) {
      const payload = await reader.frame(MAX_FRAME);
      if (payload === undefined) throw new TransferError('snapshot archive ends before its last frame');
      if (payload.length === 0) break;
      hash.update(payload);
      if (!stdin.write(payload)) await drainedOrClosed(stdin);
    }
    const sent = await reader.take(32);
    if (sent === undefined) throw new TransferError('snapshot archive ends before its checksum');
    if (!(await reader.atEnd())) throw new TransferError('snapshot archive has bytes after its checksum');
    digest = hash.digest();
    if (!sent.equals(digest)) {
      throw new TransferError(
        `snapshot ${manifest.snapshotId}: archive checksum does not match its content`,
        {
          snapshotId: manifest.snapshotId,
        },
      );
    }
  } catch (error) {
    stdin.destroy();
    await tar;
    throw error;
  } finally {
    stdin.end();
  }
  const result = await tar;
  if (result.exitCode !== 0) {
    throw new TransferError(`unpacking snapshot ${manifest.snapshotId} failed: ${stderr.trim()}`, {
      snapshotId: manifest.snapshotId,
    });
  }
  return { manifest, bytes: reader.bytes, digest };
}

// Both listeners go once either fires: a write loop must not pile them up.
function drainedOrClosed(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** Reads exact byte counts and frames off a stream of chunks. */
class FrameReader {
  readonly #chunks: AsyncIterator<Uint8Array>;
  #buffered: Buffer = Buffer.alloc(0);
  #ended = false;
  bytes = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#chunks = source[Symbol.asyncIterator]();
  }

  async #fill(count: number): Promise<boolean> {
    while (this.#buffered.length < count && !this.#ended) {
      const next = await this.#chunks.next();
      if (next.done) this.#ended = true;
      else {
        this.bytes += next.value.length;
        this.#buffered =
          this.#buffered.length === 0 ? Buffer.from(next.value) : Buffer.concat([this.#buffered, next.value]);
      }
    }
    return this.#buffered.length >= count;
  }

  /** The next `count` bytes, or undefined if the stream ends first. */
  async take(count: number): Promise<Buffer | undefined> {
    if (!(await this.#fill(count))) return undefined;
    const taken = this.#buffered.subarray(0, count);
    this.#buffered = this.#buffered.subarray(count);
    return taken;
  }

  /** The next frame's payload, or undefined if the stream ends first. */
  async frame(max: number): Promise<Buffer | undefined> {
    const header = await this.take(4);
    if (header === undefined) return undefined;
    const length = header.readUInt32BE(0);
    if (length > max) throw new TransferError(`snapshot archive frame of ${length} bytes exceeds ${max}`);
    return this.take(length);
  }

  async atEnd(): Promise<boolean> {
    return !(await this.#fill(1));
  }
}
