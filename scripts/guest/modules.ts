// Picks the guest's kernel modules out of the extracted kernel package: finds each wanted
// module and everything it depends on, decompresses them (busybox insmod reads plain .ko
// only), and returns them in a load order busybox insmod can follow (it resolves nothing).

import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { execa } from 'execa';
import { CommandError } from '../../src/errors/index.ts';
import { moduleDepends } from './modinfo.ts';

/**
 * The transport first, then the devices: virtio_pci's closure (virtio_ring, virtio, the
 * modern and legacy PCI helpers; built in from 6.12 on) loads before virtio_net, virtio_blk
 * and virtio_rng (the host's entropy, which makes the CRNG ready right after boot) bind to it.
 */
export const GUEST_MODULES = ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_rng'] as const;

/** One module ready for the initramfs. */
export interface GuestModule {
  /** Kernel module name (underscores), also its file name in the guest: /lib/modules/<name>.ko. */
  name: string;
  /** Where it came from, relative to lib/modules/<version>. */
  source: string;
  /** Modules it needs loaded first. */
  depends: string[];
  /** The uncompressed ELF object. */
  data: Buffer;
}

const MODULE_FILE = /^(.+)\.ko(\.xz|\.zst|\.gz)?$/;

/** Module names treat '-' and '_' alike; the kernel reports underscores. */
function moduleName(fileName: string): string | undefined {
  return MODULE_FILE.exec(fileName)?.[1]?.replaceAll('-', '_');
}

/** Every .ko[.xz|.zst|.gz] under `dir`, by module name. */
async function indexModules(dir: string): Promise<Map<string, string>> {
  const index = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const name = entry.isFile() ? moduleName(entry.name) : undefined;
    if (name !== undefined) index.set(name, join(entry.parentPath, entry.name));
  }
  return index;
}

/** A module file's ELF bytes: xz through the xz command (node has no xz), zstd and gzip in node. */
async function readModule(path: string): Promise<Buffer> {
  if (path.endsWith('.xz')) {
    const result = await execa('xz', ['-dc', path], { encoding: 'buffer', reject: false, timeout: 60_000 });
    if (result.exitCode !== 0) {
      throw new CommandError(['xz', '-dc', path], result.exitCode, Buffer.from(result.stderr).toString());
    }
    return Buffer.from(result.stdout);
  }
  const raw = await readFile(path);
  if (path.endsWith('.zst')) return zstdDecompressSync(raw);
  if (path.endsWith('.gz')) return gunzipSync(raw);
  return raw;
}

/** Names the kernel has built in (lib/modules/<version>/modules.builtin): dependencies needing no file. */
async function builtinModules(modulesDir: string): Promise<Set<string>> {
  const text = await readFile(join(modulesDir, 'modules.builtin'), 'utf8').catch(() => '');
  const names = text.split('\n').map((line) => moduleName(line.split('/').pop() ?? ''));
  return new Set(names.filter((name) => name !== undefined));
}

/**
 * Resolves `wanted` and their dependencies under `modulesDir` (lib/modules/<version>) and
 * returns them dependencies-first, keeping `wanted`'s order otherwise. Throws when a module
 * or a dependency is neither a file nor built in, or on a dependency cycle.
 */
export async function collectModules(
  modulesDir: string,
  wanted: readonly string[] = GUEST_MODULES,
): Promise<GuestModule[]> {
  const [index, builtin] = await Promise.all([
    indexModules(join(modulesDir, 'kernel')),
    builtinModules(modulesDir),
  ]);
  const ordered: GuestModule[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();

  const visit = async (name: string, neededBy: string): Promise<void> => {
    if (done.has(name)) return;
    if (visiting.has(name)) throw new Error(`kernel module dependency cycle through ${name}`);
    const path = index.get(name);
    if (path === undefined) {
      if (builtin.has(name)) {
        done.add(name);
        return;
      }
      throw new Error(`kernel module ${name} (${neededBy}) is neither under ${modulesDir} nor built in`);
    }
    visiting.add(name);
    const data = await readModule(path);
    const depends = moduleDepends(data, path);
    // Dependencies sorted so the order never depends on how modinfo lists them.
    for (const dependency of [...depends].sort()) await visit(dependency, `needed by ${name}`);
    visiting.delete(name);
    done.add(name);
    ordered.push({ name, source: relative(modulesDir, path), depends, data });
  };

  for (const name of wanted) await visit(name, 'wanted');
  return ordered;
}
