// Reads a kernel module's .modinfo section (NUL-separated key=value strings) straight from
// the ELF file: the build host need not have kmod's modinfo, and the kernel package ships no
// modules.dep (depmod makes it at install time).

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** The .modinfo section's bytes of a 64-bit little-endian ELF relocatable (a .ko). */
function modinfoSection(elf: Buffer, what: string): Buffer {
  if (elf.length < 64 || !elf.subarray(0, 4).equals(ELF_MAGIC) || elf[4] !== 2 || elf[5] !== 1) {
    throw new Error(`${what} is not a 64-bit little-endian ELF file`);
  }
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const section = (index: number): { name: number; offset: number; size: number } => {
    const base = shoff + index * shentsize;
    return {
      name: elf.readUInt32LE(base),
      offset: Number(elf.readBigUInt64LE(base + 24)),
      size: Number(elf.readBigUInt64LE(base + 32)),
    };
  };
  const names = section(shstrndx);
  for (let index = 0; index < shnum; index += 1) {
    const candidate = section(index);
    const start = names.offset + candidate.name;
    const name = elf.toString('latin1', start, elf.indexOf(0, start));
    if (name === '.modinfo') return elf.subarray(candidate.offset, candidate.offset + candidate.size);
  }
  throw new Error(`${what} has no .modinfo section`);
}

/** Every key=value of a module's .modinfo, in file order (keys such as alias repeat). */
export function readModinfo(elf: Buffer, what = 'module'): Array<[string, string]> {
  return modinfoSection(elf, what)
    .toString('utf8')
    .split('\0')
    .filter((entry) => entry.includes('='))
    .map((entry) => {
      const at = entry.indexOf('=');
      return [entry.slice(0, at), entry.slice(at + 1)];
    });
}

/** The modules a module needs loaded first (its `depends=`), as kernel module names. */
export function moduleDepends(elf: Buffer, what = 'module'): string[] {
  const depends = readModinfo(elf, what).find(([key]) => key === 'depends')?.[1] ?? '';
  return depends.split(',').filter((name) => name !== '');
}
