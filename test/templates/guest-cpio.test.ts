import { describe, expect, it } from 'vitest';
import { buildCpio } from '../../scripts/guest/cpio.ts';

/** Walks a newc archive the way the kernel does, returning each member's name, mode, rdev and data. */
function parseNewc(
  archive: Buffer,
): Array<{ name: string; mode: number; rdev: [number, number]; data: string }> {
  const members = [];
  let offset = 0;
  for (;;) {
    expect(offset % 4).toBe(0);
    const head = archive.toString('ascii', offset, offset + 110);
    expect(head.slice(0, 6)).toBe('070701');
    const field = (index: number) => Number.parseInt(head.slice(6 + index * 8, 14 + index * 8), 16);
    const [mode, size, namesize] = [field(1), field(6), field(11)];
    const name = archive.toString('utf8', offset + 110, offset + 110 + namesize - 1);
    expect(archive[offset + 110 + namesize - 1]).toBe(0);
    const dataStart = Math.ceil((offset + 110 + namesize) / 4) * 4;
    const data = archive.toString('utf8', dataStart, dataStart + size);
    offset = Math.ceil((dataStart + size) / 4) * 4;
    if (name === 'TRAILER!!!') break;
    members.push({ name, mode, rdev: [field(9), field(10)] as [number, number], data });
  }
  expect(offset).toBe(archive.length);
  return members;
}

describe('newc cpio writer', () => {
  it('writes directories, files, symlinks and device nodes, 4-byte aligned, ending in TRAILER!!!', () => {
    const archive = buildCpio([
      { kind: 'dir', path: 'bin' },
      { kind: 'file', path: '/bin/hello', data: 'hi\n', mode: 0o755 },
      { kind: 'symlink', path: 'bin/sh', target: 'hello' },
      { kind: 'chardev', path: 'console', major: 5, minor: 1 },
    ]);
    expect(parseNewc(archive)).toEqual([
      { name: 'bin', mode: 0o040755, rdev: [0, 0], data: '' },
      { name: 'bin/hello', mode: 0o100755, rdev: [0, 0], data: 'hi\n' },
      { name: 'bin/sh', mode: 0o120777, rdev: [0, 0], data: 'hello' },
      { name: 'console', mode: 0o020600, rdev: [5, 1], data: '' },
    ]);
  });

  it('gives the same bytes for the same members (no clock, no owner)', () => {
    const members = [{ kind: 'file', path: 'a', data: 'x' }] as const;
    expect(buildCpio(members).equals(buildCpio(members))).toBe(true);
  });

  it('refuses paths that escape or are empty', () => {
    expect(() => buildCpio([{ kind: 'dir', path: '../etc' }])).toThrow(RangeError);
    expect(() => buildCpio([{ kind: 'dir', path: '/' }])).toThrow(RangeError);
  });
});
