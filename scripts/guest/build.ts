// Builds the test guest under .cache/guest: Debian's cloud kernel as vmlinuz, and an initramfs
// of busybox-static, the reseed helper (compiled here), the virtio modules and a tiny HTTP
// service. Cached: a stamp of the package versions and the builder's sources says when the
// outputs are current.

import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, silentLogger } from '../../src/logging/logger.ts';
import { REPO_ROOT, testGuestDir, testGuestPaths } from '../../src/templates/test-guest.ts';
import { writeFileAtomic } from '../../src/util/atomic-write.ts';
import {
  downloadPackage,
  extractPackage,
  type GuestPackages,
  type PackageRef,
  pruneDebCache,
} from './apt.ts';
import { buildInitramfs } from './initramfs.ts';
import { readKernelVmgenid } from './kernel-config.ts';
import { stampFor, TestGuestManifest } from './manifest.ts';
import { collectModules, GUEST_MODULES } from './modules.ts';
import { aptOptionsFor, type KernelSource, refreshLists, resolveGuestPackages } from './packages.ts';
import { compileReseedHelper } from './reseed-helper.ts';

/** Options of buildTestGuest. */
export interface BuildTestGuestOptions {
  /** Repository whose .cache/guest receives the outputs; default: this checkout. */
  repoRoot?: string;
  /** Rebuild even when the stamp matches. */
  force?: boolean;
  /** Default: silentLogger. */
  logger?: Logger;
  /** Where the kernel comes from; default 'machine' (see KernelSource for why). */
  kernelSource?: KernelSource;
}

/** What buildTestGuest did. */
export interface BuildTestGuestResult {
  manifest: TestGuestManifest;
  /** False when the cached outputs were current (or reused because apt could not answer). */
  built: boolean;
}

const STAMP = '.stamp';

/** A file's text, or undefined when it cannot be read. */
async function readIfExists(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

/** The manifest of a complete earlier build, or undefined when any output is missing. */
async function existingBuild(repoRoot: string): Promise<TestGuestManifest | undefined> {
  const paths = testGuestPaths(repoRoot);
  const [manifest, stamp] = await Promise.all([
    readIfExists(paths.manifestPath),
    readIfExists(join(testGuestDir(repoRoot), STAMP)),
  ]);
  const files = await Promise.all([paths.kernelPath, paths.initramfsPath].map(nonEmpty));
  if (manifest === undefined || stamp === undefined || files.includes(false)) return undefined;
  try {
    const parsed = TestGuestManifest.safeParse(JSON.parse(manifest));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // Unreadable guest.json: rebuild.
  }
}

/** Whether a file exists and holds something. */
async function nonEmpty(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.size > 0,
    () => false,
  );
}

/** Runs an apt step; on failure refreshes the lists once (they may be missing or stale) and retries. */
async function withListsRetry<T>(
  what: string,
  step: () => Promise<T>,
  guestDir: string,
  logger: Logger,
): Promise<T> {
  try {
    return await step();
  } catch (error) {
    logger.info({ err: error }, `${what} failed: apt-get update, then one retry`);
    await refreshLists(guestDir);
    return step();
  }
}

/** The single file under `dir` whose name starts with `prefix`. */
async function onlyFile(dir: string, prefix: string): Promise<string> {
  const matches = (await readdir(dir)).filter((name) => name.startsWith(prefix));
  if (matches.length !== 1 || matches[0] === undefined) {
    throw new Error(`expected one ${prefix}* in ${dir}, found ${matches.length}`);
  }
  return matches[0];
}

/** Downloads, extracts and assembles; writes the outputs, the stamp last. */
async function build(
  repoRoot: string,
  packages: GuestPackages,
  stamp: string,
  logger: Logger,
): Promise<TestGuestManifest> {
  const dir = testGuestDir(repoRoot);
  const debs = join(dir, 'debs');
  const download = (ref: PackageRef) => downloadPackage(ref, debs, aptOptionsFor(ref, dir));
  const [kernelDeb, busyboxDeb] = await withListsRetry(
    'apt-get download',
    () => Promise.all([download(packages.kernel), download(packages.busybox)]),
    dir,
    logger,
  );
  const work = await mkdtemp(join(dir, 'work-'));
  try {
    const [reseedHelper] = await Promise.all([
      compileReseedHelper(work),
      extractPackage(kernelDeb, join(work, 'kernel')),
      extractPackage(busyboxDeb, join(work, 'busybox')),
    ]);
    const vmlinuz = await onlyFile(join(work, 'kernel', 'boot'), 'vmlinuz-');
    const kernelVersion = vmlinuz.slice('vmlinuz-'.length);
    const vmgenid = await readKernelVmgenid(join(work, 'kernel', 'boot'), kernelVersion);
    // A vmgenid driver built as a module must be loaded by /init like the virtio ones.
    const modules = await collectModules(
      join(work, 'kernel', 'lib', 'modules', kernelVersion),
      vmgenid === 'module' ? [...GUEST_MODULES, 'vmgenid'] : GUEST_MODULES,
    );
    const busybox = await readFile(join(work, 'busybox', 'bin', 'busybox'));
    const initramfs = buildInitramfs({ busybox, reseedHelper, modules });
    const paths = testGuestPaths(repoRoot);
    const manifest: TestGuestManifest = {
      kernelVersion,
      vmgenid,
      packages: { kernel: packages.kernel, busybox: packages.busybox },
      kernelPath: paths.kernelPath,
      initramfsPath: paths.initramfsPath,
      cmdline: paths.cmdline,
      modules: modules.map((module) => module.name),
      initramfsBytes: initramfs.length,
      builtAt: new Date().toISOString(),
    };
    // The stamp goes first (removed) and last (written): a build cut short is never "current".
    await rm(join(dir, STAMP), { force: true });
    await writeFileAtomic(paths.kernelPath, await readFile(join(work, 'kernel', 'boot', vmlinuz)));
    await writeFileAtomic(paths.initramfsPath, initramfs);
    await writeFileAtomic(paths.manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    await writeFileAtomic(join(dir, STAMP), stamp);
    await pruneDebCache(debs, [kernelDeb, busyboxDeb]);
    return manifest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Makes sure the test guest exists and is current: resolves the packages from the local apt
 * lists, and rebuilds only when an output is missing or the stamp differs. When apt cannot
 * answer at all but a complete earlier build exists, that build is reused.
 */
export async function buildTestGuest(options: BuildTestGuestOptions = {}): Promise<BuildTestGuestResult> {
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  const logger = options.logger ?? silentLogger;
  await mkdir(testGuestDir(repoRoot), { recursive: true });
  const existing = await existingBuild(repoRoot);

  const guestDir = testGuestDir(repoRoot);
  const resolve = () => resolveGuestPackages(guestDir, options.kernelSource ?? 'machine', logger);
  let packages: GuestPackages;
  try {
    packages = await resolve();
  } catch (error) {
    if (existing !== undefined) {
      logger.warn({ err: error }, 'apt cannot resolve the guest packages: reusing the existing build');
      return { manifest: existing, built: false };
    }
    packages = await withListsRetry('apt-cache resolve', resolve, guestDir, logger);
  }

  const stamp = await stampFor(packages);
  const currentStamp = await readIfExists(join(testGuestDir(repoRoot), STAMP));
  if (!options.force && existing !== undefined && currentStamp === stamp) {
    return { manifest: existing, built: false };
  }
  logger.info({ packages }, 'building the test guest');
  const manifest = await build(repoRoot, packages, stamp, logger);
  logger.info({ kernelVersion: manifest.kernelVersion, modules: manifest.modules }, 'test guest built');
  return { manifest, built: true };
}
