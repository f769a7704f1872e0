// The two Debian packages the test guest is made of: which exact versions apt offers, a
// download cache keyed by version, and extraction. Commands run through execa as argv arrays.

import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { CommandError } from '../../src/errors/index.ts';

/** The meta package whose dependency is the real kernel package (linux-image-<version>-cloud-amd64). */
export const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';
/** A statically linked busybox: the guest's whole userspace. */
export const BUSYBOX_PACKAGE = 'busybox-static';

/** One exact package version apt can fetch. */
export interface PackageRef {
  name: string;
  version: string;
  /** The suite it comes from when that is not one of the machine's own (the kernel's backports). */
  suite?: string;
}

/**
 * apt's `-o` options for a private configuration (sources, lists, cache of its own); empty
 * for the machine's. The kernel's backports suite is read through one, so the machine's apt
 * setup is never changed.
 */
export type AptOptions = readonly string[];

/** The packages the guest is built from. */
export interface GuestPackages {
  kernel: PackageRef;
  busybox: PackageRef;
}

/** Runs a command (no shell) and returns stdout; a non-zero exit throws CommandError. */
export async function run(file: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}) {
  const result = await execa(file, args, {
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 60_000,
    reject: false,
    stdin: 'ignore',
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.exitCode !== 0) {
    const reason = result.timedOut ? 'timed out' : String(result.stderr);
    throw new CommandError([file, ...args], result.exitCode, reason, result);
  }
  return String(result.stdout);
}

/** The candidate stanza of each package, from one `apt-cache show` (each call parses every list: ~1 s). */
async function candidateStanzas(
  names: readonly string[],
  apt: AptOptions = [],
): Promise<Map<string, string>> {
  const show = await run('apt-cache', [...apt, 'show', '--no-all-versions', ...names]);
  const stanzas = new Map<string, string>();
  for (const stanza of show.split(/\n\s*\n/)) {
    const name = /^Package: (\S+)$/m.exec(stanza)?.[1];
    if (name !== undefined && !stanzas.has(name)) stanzas.set(name, stanza);
  }
  return stanzas;
}

/** A stanza's field (first line only: enough for Version and a one-line Depends). */
function field(stanza: string | undefined, key: string): string | undefined {
  return stanza === undefined ? undefined : new RegExp(`^${key}: (.+)$`, 'm').exec(stanza)?.[1]?.trim();
}

/**
 * The kernel package behind linux-image-cloud-amd64 (its `Depends`, as `apt-cache depends`
 * shows it) and its version, from the lists of `apt` only. Throws (CommandError from
 * apt-cache) when the lists do not know the meta package.
 */
export async function resolveKernel(apt: AptOptions = []): Promise<PackageRef> {
  const stanzas = await candidateStanzas([KERNEL_META_PACKAGE], apt);
  const depends = field(stanzas.get(KERNEL_META_PACKAGE), 'Depends') ?? '';
  const match = /(?:^|,\s*)(linux-image-[^\s,(]+)(?:\s*\(= ([^)\s]+)\))?/.exec(depends);
  const name = match?.[1];
  if (name === undefined)
    throw new Error(`apt-cache cannot resolve ${KERNEL_META_PACKAGE}: Depends "${depends}"`);
  // The meta package pins its kernel's version (=); ask apt only when it does not.
  const version = match?.[2] ?? field((await candidateStanzas([name], apt)).get(name), 'Version');
  if (version === undefined) throw new Error(`apt-cache shows no version for ${name}`);
  return { name, version };
}

/** busybox-static's candidate version from the machine's lists; throws when they do not know it. */
export async function resolveBusybox(): Promise<PackageRef> {
  const version = field((await candidateStanzas([BUSYBOX_PACKAGE])).get(BUSYBOX_PACKAGE), 'Version');
  if (version === undefined) throw new Error(`apt-cache shows no version for ${BUSYBOX_PACKAGE}`);
  return { name: BUSYBOX_PACKAGE, version };
}

/** Refreshes the apt lists: only after a resolve or download failed for lack of them. */
export async function updateAptLists(apt: AptOptions = []): Promise<void> {
  await run('apt-get', [...apt, 'update', '-qq'], { timeoutMs: 300_000 });
}

/** The cache file name of a package version (epoch colons are not file-name friendly). */
function debFileName(ref: PackageRef): string {
  return `${ref.name}_${ref.version.replaceAll(':', '%3a')}_amd64.deb`;
}

/**
 * The .deb of `ref` in `cacheDir`, fetched with `apt-get download` unless already cached.
 * Downloads go to a private directory first, so a concurrent build never sees half a file.
 */
export async function downloadPackage(
  ref: PackageRef,
  cacheDir: string,
  apt: AptOptions = [],
): Promise<string> {
  const target = join(cacheDir, debFileName(ref));
  if (
    await stat(target).then(
      (s) => s.size > 0,
      () => false,
    )
  )
    return target;
  await mkdir(cacheDir, { recursive: true });
  const scratch = await mkdtemp(join(cacheDir, 'download-'));
  try {
    await run('apt-get', [...apt, 'download', '-q', `${ref.name}=${ref.version}`], {
      cwd: scratch,
      timeoutMs: 600_000,
    });
    const debs = (await readdir(scratch)).filter((name) => name.endsWith('.deb'));
    if (debs.length !== 1 || debs[0] === undefined) {
      throw new Error(`apt-get download ${ref.name}=${ref.version} left ${debs.length} .deb files`);
    }
    await rename(join(scratch, debs[0]), target);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return target;
}

/** Removes cached .deb files other than `keep` (older kernels and busyboxes are dead weight). */
export async function pruneDebCache(cacheDir: string, keep: readonly string[]): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    const path = join(cacheDir, name);
    if (name.endsWith('.deb') && !keep.includes(path)) await rm(path, { force: true });
  }
}

/** Unpacks a .deb's files (not its scripts) into `dir` with dpkg-deb -x. */
export async function extractPackage(deb: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await run('dpkg-deb', ['-x', deb, dir], { timeoutMs: 300_000 });
}
