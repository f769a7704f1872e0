// A writer for the "newc" cpio format the kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst), so the guest build needs no
// cpio binary. Timestamps and owners are fixed: the same inputs give the same bytes.

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** One archive member: a directory, a regular file, a symlink or a character device node. */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array | string; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

interface Header {
  ino: number;
  mode: number;
  nlink: number;
  filesize: number;
  rdevmajor: number;
  rdevminor: number;
  namesize: number;
}

/** Eight upper-case hex digits, the width of every newc header field. */
function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`cpio header field out of range: ${value}`);
  }
  return value.toString(16).toUpperCase().padStart(8, '0');
}

/** The 110-byte ASCII header: magic 070701, then 13 fields (uid, gid, mtime, dev and check are 0). */
function header(h: Header): string {
  const fields = [h.ino, h.mode, 0, 0, h.nlink, 0, h.filesize, 0, 0, h.rdevmajor, h.rdevminor, h.namesize, 0];
  return `070701${fields.map(hex8).join('')}`;
}

/** Zero bytes that bring `length` up to the next multiple of 4. */
function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/** Archive names are relative ("bin/sh"); a leading slash is dropped. */
function archiveName(path: string): string {
  const name = path.replace(/^\/+/, '');
  if (name === '' || name.split('/').some((part) => part === '' || part === '..')) {
    throw new RangeError(`bad cpio member path: ${JSON.stringify(path)}`);
  }
  return name;
}

/** One member's header, name and data, each padded to 4 bytes as newc requires. */
function member(ino: number, name: string, mode: number, data: Buffer, rdev: [number, number]): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const head = Buffer.from(
    header({
      ino,
      mode,
      nlink: (mode & 0o170000) === S_IFDIR ? 2 : 1,
      filesize: data.length,
      rdevmajor: rdev[0],
      rdevminor: rdev[1],
      namesize: nameBytes.length,
    }),
    'ascii',
  );
  return [head, nameBytes, pad4(head.length + nameBytes.length), data, pad4(data.length)];
}

/**
 * Builds a newc archive of `entries`, in the given order (parents before children), ending
 * with the TRAILER!!! member. Uncompressed: gzip it for the kernel.
 */
export function buildCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const entry of entries) {
    const name = archiveName(entry.path);
    switch (entry.kind) {
      case 'dir':
        parts.push(...member(ino, name, S_IFDIR | (entry.mode ?? 0o755), Buffer.alloc(0), [0, 0]));
        break;
      case 'file': {
        const data =
          typeof entry.data === 'string' ? Buffer.from(entry.data, 'utf8') : Buffer.from(entry.data);
        parts.push(...member(ino, name, S_IFREG | (entry.mode ?? 0o644), data, [0, 0]));
        break;
      }
      case 'symlink':
        parts.push(...member(ino, name, S_IFLNK | 0o777, Buffer.from(entry.target, 'utf8'), [0, 0]));
        break;
      case 'chardev':
        parts.push(
          ...member(ino, name, S_IFCHR | (entry.mode ?? 0o600), Buffer.alloc(0), [entry.major, entry.minor]),
        );
        break;
    }
    ino += 1;
  }
  const trailer = Buffer.from('TRAILER!!!\0', 'ascii');
  const head = Buffer.from(
    header({ ino: 0, mode: 0, nlink: 1, filesize: 0, rdevmajor: 0, rdevminor: 0, namesize: trailer.length }),
    'ascii',
  );
  parts.push(head, trailer, pad4(head.length + trailer.length));
  return Buffer.concat(parts);
}
