import { mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import type { SnapshotRecord } from '../../src/state/record-schemas.ts';
import { ARCHIVE_MAGIC, splitManifest } from '../../src/transfer/archive-format.ts';
import { packSnapshot, unpackSnapshot } from '../../src/transfer/snapshot-archive.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

const MIB = 1024 * 1024;

const MANIFEST: SnapshotRecord = {
  snapshotId: 'arch-snap',
  sandboxId: 'arch-sb',
  hostId: 'h1',
  template: 'base',
  vcpus: 1,
  memoryMib: 256,
  memoryBytes: 4 * MIB,
  diskBytes: 4096,
  labels: {},
  createdAt: new Date().toISOString(),
};

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function* chunksOf(bytes: Buffer, size = 7919): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

describe('snapshot archives: sparse, framed, checksummed', () => {
  let dir: TempDir;
  let source: string;
  let archive: Buffer;
  let packedDigest: Buffer | undefined;

  beforeAll(async () => {
    dir = await makeTempDir('hangar-archive-');
    source = join(dir.path, 'source');
    await mkdir(join(source, 'vm'), { recursive: true });
    // A 256 MiB memory file holding 4 MiB of data in two places: the rest is holes.
    const memory = await open(join(source, 'vm', 'memory'), 'w');
    await memory.truncate(256 * MIB);
    await memory.write(Buffer.alloc(2 * MIB, 0xab), 0, 2 * MIB, 8 * MIB);
    await memory.write(Buffer.alloc(2 * MIB, 0xcd), 0, 2 * MIB, 200 * MIB);
    await memory.close();
    await writeFile(join(source, 'disk.cow'), 'disk bytes');
    await writeFile(join(source, 'snapshot.json'), JSON.stringify(MANIFEST));
    archive = await collect(
      packSnapshot(source, MANIFEST, (digest) => {
        packedDigest = digest;
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await dir?.remove();
  });

  it('carries what the files hold, not their length, and unpacks them sparse and equal', async () => {
    expect(archive.subarray(0, ARCHIVE_MAGIC.length).equals(ARCHIVE_MAGIC)).toBe(true);
    // 4 MiB of data in a 256 MiB file: the archive is the data plus headers.
    expect(archive.length).toBeGreaterThan(4 * MIB);
    expect(archive.length).toBeLessThan(5 * MIB);
    const target = join(dir.path, 'target');
    await mkdir(target);
    let seen: SnapshotRecord | undefined;
    const unpacked = await unpackSnapshot(chunksOf(archive), target, (manifest) => {
      seen = manifest;
    });
    expect(seen).toEqual(MANIFEST);
    // Both ends name the same digest: the one the archive ends with, which a transfer's MAC covers.
    expect(packedDigest).toEqual(archive.subarray(-32));
    expect(unpacked).toEqual({ manifest: MANIFEST, bytes: archive.length, digest: archive.subarray(-32) });
    const copy = await stat(join(target, 'vm', 'memory'));
    expect(copy.size).toBe(256 * MIB);
    expect(copy.blocks * 512).toBeLessThan(8 * MIB);
    const [a, b] = await Promise.all([
      readFile(join(source, 'vm', 'memory')),
      readFile(join(target, 'vm', 'memory')),
    ]);
    expect(a.equals(b)).toBe(true);
    expect(await readFile(join(target, 'disk.cow'), 'utf8')).toBe('disk bytes');
  });

  it('refuses a corrupt, truncated or foreign archive with E_TRANSFER', async () => {
    const corrupt = Buffer.from(archive);
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0xff;
    const truncated = archive.subarray(0, archive.length - 100);
    const foreign = Buffer.from('PK\u0003\u0004 not ours');
    const trailing = Buffer.concat([archive, Buffer.from('x')]);
    for (const [name, bytes] of Object.entries({ corrupt, truncated, foreign, trailing })) {
      const target = join(dir.path, `bad-${name}`);
      await mkdir(target);
      const error = await unpackSnapshot(chunksOf(bytes), target).catch((e: unknown) => e);
      expect(error, name).toMatchObject({ code: ErrorCode.Transfer });
    }
  });

  it('lets the manifest be refused before a file is written', async () => {
    const target = join(dir.path, 'refused');
    await mkdir(target);
    const error = await unpackSnapshot(chunksOf(archive), target, () => {
      throw new Error('no room');
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ message: 'no room' });
    expect(await readdir(target)).toEqual([]);
  });

  it('reads the manifest off the head and hands back the whole archive', async () => {
    const { manifest, archive: rest } = await splitManifest(chunksOf(archive, 5));
    expect(manifest).toEqual(MANIFEST);
    expect((await collect(rest)).equals(archive)).toBe(true);
  });
});
