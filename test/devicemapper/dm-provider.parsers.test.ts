import { describe, expect, it } from 'vitest';
import {
  CHUNK_SECTORS,
  cowBytesFor,
  dmName,
  exceptionsPerArea,
  originSectors,
  parseDmInfo,
  parseDmList,
  parseSnapshotStatus,
  parseSnapshotTable,
  snapshotTable,
} from '../../src/devicemapper/dm/index.ts';
import { parseLosetupList } from '../../src/devicemapper/losetup.ts';
import { ValidationError } from '../../src/errors/index.ts';
import { dmInfo } from '../support/dm-outputs.ts';

const CHUNK = 4096;

/**
 * Chunks of the CoW that dm-snap-persistent touches when `n` origin chunks are written and
 * the store is then loaded again, following its allocator: header at 0, area k's metadata at
 * 1 + k*(perArea+1), data in between; a load reads areas until one is not full.
 */
function chunksTouched(n: number, perArea: number): number {
  const stride = perArea + 1;
  let nextFree = 2;
  let highest = 1;
  for (let i = 0; i < n; i++) {
    highest = Math.max(highest, nextFree);
    nextFree += 1;
    if (nextFree % stride === 1) nextFree += 1;
  }
  // Areas before floor(n / perArea) are full, so the load reads on up to that one.
  const lastAreaRead = Math.floor(n / perArea);
  return Math.max(highest, 1 + lastAreaRead * stride) + 1;
}

describe('CoW sizing (table.ts)', () => {
  it('holds 256 exceptions per 4 KiB metadata chunk', () => {
    expect(CHUNK_SECTORS).toBe(8);
    expect(exceptionsPerArea()).toBe(256);
    expect(exceptionsPerArea(16)).toBe(512);
  });

  it('reserves header + metadata areas + data + the next area read on load', () => {
    expect(cowBytesFor(256 * CHUNK)).toBe((1 + 1 + 256 + 1) * CHUNK);
    expect(cowBytesFor(257 * CHUNK)).toBe((1 + 2 + 257 + 1) * CHUNK);
    expect(cowBytesFor(1024 ** 3)).toBe((1 + 1024 + 262_144 + 1) * CHUNK);
    // A tail smaller than a chunk still needs a whole chunk.
    expect(cowBytesFor(10 * CHUNK + 512)).toBe((1 + 1 + 11 + 1) * CHUNK);
  });

  it('always covers what the kernel allocator touches, in whole chunks, with little overhead', () => {
    for (const chunks of [1, 2, 255, 256, 257, 511, 512, 513, 1000, 65_536, 65_537]) {
      const bytes = cowBytesFor(chunks * CHUNK);
      expect(bytes % CHUNK).toBe(0);
      expect(bytes / CHUNK).toBeGreaterThanOrEqual(chunksTouched(chunks, 256));
      expect(bytes - chunks * CHUNK).toBeLessThanOrEqual(Math.ceil(chunks / 256) * CHUNK + 2 * CHUNK);
    }
    // Tight where the last area is exactly full: no chunk to spare.
    expect(cowBytesFor(512 * CHUNK) / CHUNK).toBe(chunksTouched(512, 256));
  });

  it('counts origin sectors and refuses sizes that are not whole sectors', () => {
    expect(originSectors(8 * 1024 * 1024)).toBe(16_384);
    expect(() => originSectors(1000)).toThrow(ValidationError);
    expect(() => originSectors(0)).toThrow(ValidationError);
    expect(() => cowBytesFor(-512)).toThrow(ValidationError);
  });

  it('writes the snapshot table as one line and reads dmsetup table output back', () => {
    expect(snapshotTable(16_384, '/dev/loop0', '/dev/loop1')).toBe(
      '0 16384 snapshot /dev/loop0 /dev/loop1 P 8',
    );
    expect(parseSnapshotTable('0 16384 snapshot 7:0 7:1 P 8\n')).toEqual({
      sectors: 16_384,
      origin: '7:0',
      cow: '7:1',
      persistent: true,
      chunkSectors: 8,
    });
    expect(parseSnapshotTable('0 16384 linear 7:0 0')).toBeUndefined();
    expect(dmName('sb-1')).toBe('hangar-sb-1');
  });
});

describe('dmsetup output parsers', () => {
  it('reads dmsetup info', () => {
    expect(parseDmInfo(dmInfo('hangar-a', { openCount: 1 }))).toEqual({
      name: 'hangar-a',
      state: 'ACTIVE',
      live: true,
      openCount: 1,
    });
    expect(parseDmInfo(dmInfo('hangar-b', { state: 'SUSPENDED', live: false }))).toMatchObject({
      state: 'SUSPENDED',
      live: false,
    });
    expect(() => parseDmInfo('garbage')).toThrow(ValidationError);
  });

  it('reads dmsetup ls in both major:minor styles, and "No devices found"', () => {
    expect(parseDmList('hangar-a\t(253:0)\nhangar-b\t(253:1)\n')).toEqual(['hangar-a', 'hangar-b']);
    expect(parseDmList('hangar-a\t(253, 0)')).toEqual(['hangar-a']);
    expect(parseDmList('No devices found\n')).toEqual([]);
    expect(parseDmList('')).toEqual([]);
  });

  it('reads a snapshot status: fill, Invalid, Overflow', () => {
    expect(parseSnapshotStatus('0 16384 snapshot 48/16416 16')).toEqual({
      state: 'valid',
      usedSectors: 48,
      totalSectors: 16_416,
      metadataSectors: 16,
    });
    expect(parseSnapshotStatus('0 16384 snapshot Invalid').state).toBe('invalid');
    expect(parseSnapshotStatus('0 16384 snapshot Overflow').state).toBe('overflow');
    expect(parseSnapshotStatus('0 16384 linear').state).toBe('unknown');
  });
});

describe('losetup --json parser', () => {
  it('reads util-linux 2.38 output (captured on this machine)', () => {
    const captured = `{
   "loopdevices": [
      {
         "name": "/dev/loop0",
         "sizelimit": 0,
         "offset": 0,
         "autoclear": false,
         "ro": true,
         "back-file": "/tmp/dmexp/base.img",
         "dio": false,
         "log-sec": 512
      }
   ]
}`;
    expect(parseLosetupList(captured)).toEqual([
      {
        device: '/dev/loop0',
        backFile: '/tmp/dmexp/base.img',
        readOnly: true,
        autoclear: false,
        offset: 0,
        sizeLimit: 0,
      },
    ]);
  });

  it('reads the maj:min column, older "0"/"1" strings, an empty list and empty output', () => {
    const withMajMin =
      '{"loopdevices":[{"name":"/dev/loop3","maj:min":"  7:3  ","back-file":"/x.cow","ro":false,"autoclear":false,"offset":0,"sizelimit":0}]}';
    expect(parseLosetupList(withMajMin)[0]).toMatchObject({ device: '/dev/loop3', majMin: '7:3' });
    const old =
      '{"loopdevices":[{"name":"/dev/loop1","sizelimit":"0","offset":"0","autoclear":"1","ro":"0","back-file":"/y (deleted)"}]}';
    expect(parseLosetupList(old)[0]).toMatchObject({
      readOnly: false,
      autoclear: true,
      backFile: '/y (deleted)',
    });
    expect(parseLosetupList('{\n   "loopdevices": [\n\n   ]\n}')).toEqual([]);
    expect(parseLosetupList('')).toEqual([]);
    expect(() => parseLosetupList('not json')).toThrow(ValidationError);
    expect(() => parseLosetupList('{"loopdevices":[{"name":"loop0"}]}')).toThrow(ValidationError);
  });
});
