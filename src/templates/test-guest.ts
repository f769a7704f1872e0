import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository this file sits in: the default root for the guest's cache directory. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/**
 * Kernel command line for the test guest: serial console, quiet boot, and on a panic an
 * immediate reboot (triple fault), which QEMU's -no-reboot turns into an exit.
 */
export const TEST_GUEST_CMDLINE = 'console=ttyS0 quiet panic=-1 reboot=t';

/** Where `npm run guest:build` writes the test guest (git-ignored). */
export function testGuestDir(repoRoot: string = REPO_ROOT): string {
  return join(repoRoot, '.cache', 'guest');
}

/** What a VMM needs to boot the test guest: kernel, initramfs, command line. */
export interface TestGuestPaths {
  kernelPath: string;
  initramfsPath: string;
  cmdline: string;
  /** guest.json: kernel version, package versions, module load order. */
  manifestPath: string;
}

/** The test guest's files under `repoRoot` (they exist once the guest is built). */
export function testGuestPaths(repoRoot: string = REPO_ROOT): TestGuestPaths {
  const dir = testGuestDir(repoRoot);
  return {
    kernelPath: join(dir, 'vmlinuz'),
    initramfsPath: join(dir, 'initramfs.cpio.gz'),
    cmdline: TEST_GUEST_CMDLINE,
    manifestPath: join(dir, 'guest.json'),
  };
}

/** Whether the test guest's kernel, initramfs and manifest are all there (built by guest:build). */
export function testGuestBuilt(repoRoot: string = REPO_ROOT): boolean {
  const paths = testGuestPaths(repoRoot);
  return [paths.kernelPath, paths.initramfsPath, paths.manifestPath].every((path) => existsSync(path));
}
