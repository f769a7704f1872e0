import { ValidationError } from '../../errors/index.ts';

/** Bytes in a device-mapper sector: tables and sizes are counted in these. */
export const SECTOR_BYTES = 512;
/** Snapshot chunk size in sectors: 8 sectors = 4 KiB, the guest's page and block size. */
export const CHUNK_SECTORS = 8;
/** Bytes of one on-disk exception record (old chunk u64, new chunk u64) in a persistent store. */
const EXCEPTION_BYTES = 16;

/** Exceptions one metadata chunk holds: a chunk full of 16-byte records (256 for 4 KiB). */
export function exceptionsPerArea(chunkSectors: number = CHUNK_SECTORS): number {
  return (chunkSectors * SECTOR_BYTES) / EXCEPTION_BYTES;
}

/** Sectors of an origin of `bytes` (a loop device's size is whole sectors). */
export function originSectors(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % SECTOR_BYTES !== 0) {
    throw new ValidationError(`origin size ${bytes} is not a positive whole number of sectors`, { bytes });
  }
  return bytes / SECTOR_BYTES;
}

/**
 * Bytes a persistent CoW needs so that every chunk of the origin can be written without the
 * store running out of space (which invalidates the snapshot: the guest sees I/O errors).
 * dm-snap-persistent lays the CoW out in chunks:
 *   chunk 0              header
 *   then, repeatedly     1 metadata chunk (an "area": exceptionsPerArea records)
 *                        followed by up to exceptionsPerArea data chunks
 * so N origin chunks written need 1 + N + ceil(N / perArea) chunks. One chunk more: when the
 * last area is exactly full, loading the store (on restore) reads the NEXT area's metadata
 * chunk, which must lie inside the device. The result is whole chunks (dm ignores a tail).
 * For 4 KiB chunks the overhead is 1/256 of the origin plus 8 KiB; the file is sparse, so
 * only chunks really written take space.
 */
export function cowBytesFor(originBytes: number, chunkSectors: number = CHUNK_SECTORS): number {
  originSectors(originBytes);
  const chunkBytes = chunkSectors * SECTOR_BYTES;
  const dataChunks = Math.ceil(originBytes / chunkBytes);
  const metadataChunks = Math.ceil(dataChunks / exceptionsPerArea(chunkSectors));
  const headerChunks = 1;
  const nextAreaChunk = 1;
  return (headerChunks + metadataChunks + dataChunks + nextAreaChunk) * chunkBytes;
}

/** A snapshot target line: the writable view of `origin` whose changes go to `cow`. */
export interface SnapshotTable {
  sectors: number;
  /** Origin block device (`/dev/loopN`, or `major:minor` as dmsetup prints it back). */
  origin: string;
  cow: string;
  /** P: exceptions survive a reload (needed to restore from the CoW); N: they do not. */
  persistent: boolean;
  chunkSectors: number;
}

/** The dm table (ONE argv element) of a persistent snapshot over the whole origin. */
export function snapshotTable(sectors: number, origin: string, cow: string): string {
  return `0 ${sectors} snapshot ${origin} ${cow} P ${CHUNK_SECTORS}`;
}

/** Reads a `dmsetup table` line back; undefined when it is not a single snapshot target. */
export function parseSnapshotTable(line: string): SnapshotTable | undefined {
  const match = /^0 (\d+) snapshot (\S+) (\S+) ([PN]O?) (\d+)$/.exec(line.trim());
  if (match === null) return undefined;
  const [, sectors, origin, cow, store, chunk] = match;
  return {
    sectors: Number(sectors),
    origin: origin ?? '',
    cow: cow ?? '',
    persistent: store?.startsWith('P') ?? false,
    chunkSectors: Number(chunk),
  };
}
