// Which exact packages the guest is built from: busybox-static and, by default, the cloud
// kernel from the machine's lists; on request the cloud kernel from the machine's
// <codename>-backports (on bookworm a 6.12 kernel with CONFIG_VMGENID, which 6.1 lacks).

import { join } from 'node:path';
import type { Logger } from '../../src/logging/logger.ts';
import {
  type AptOptions,
  type GuestPackages,
  type PackageRef,
  resolveBusybox,
  resolveKernel,
  updateAptLists,
} from './apt.ts';
import {
  backportsAptOptions,
  hasBackportsLists,
  machineDebianArchive,
  writeBackportsSource,
} from './backports.ts';

/** The private apt configuration that reads the backports suite, under the guest cache. */
function backportsDir(guestDir: string): string {
  return join(guestDir, 'apt');
}

/** The apt options to fetch `ref` with: the private configuration for a backports package. */
export function aptOptionsFor(ref: PackageRef, guestDir: string): AptOptions {
  return ref.suite === undefined ? [] : backportsAptOptions(backportsDir(guestDir));
}

/** The kernel from backports, or undefined (logged) when that suite cannot be read or has none. */
async function backportsKernel(guestDir: string, logger: Logger): Promise<PackageRef | undefined> {
  try {
    const archive = await machineDebianArchive();
    if (archive === undefined) {
      logger.info('the machine lists no Debian release: the guest kernel comes from its own lists');
      return undefined;
    }
    const dir = backportsDir(guestDir);
    const suite = await writeBackportsSource(dir, archive);
    const apt = backportsAptOptions(dir);
    // Fetched once; afterwards only when a download fails (refreshLists), as the machine's are.
    if (!(await hasBackportsLists(dir))) await updateAptLists(apt);
    return { ...(await resolveKernel(apt)), suite };
  } catch (error) {
    logger.warn(
      { err: error },
      'no cloud kernel from backports: the guest kernel comes from the machine lists',
    );
    return undefined;
  }
}

/**
 * Where the guest kernel comes from. 'machine' is the default: bookworm-backports' 6.12 cloud
 * kernel panics (double faults, corrupt EFLAGS) in about 2 of 5 boots under QEMU 7.2's TCG
 * when three guests boot at once, where bookworm's 6.1 boots every time.
 */
export type KernelSource = 'machine' | 'backports';

/**
 * Resolves both packages from local lists (the private backports lists are fetched the
 * first time they are asked for). Throws (CommandError from apt-cache) when the machine's
 * lists know neither busybox nor, when needed, a cloud kernel.
 */
export async function resolveGuestPackages(
  guestDir: string,
  kernelSource: KernelSource,
  logger: Logger,
): Promise<GuestPackages> {
  const busybox = await resolveBusybox();
  const backports = kernelSource === 'backports' ? await backportsKernel(guestDir, logger) : undefined;
  return { kernel: backports ?? (await resolveKernel()), busybox };
}

/** Refreshes the machine's lists and, when it exists, the private backports configuration's. */
export async function refreshLists(guestDir: string): Promise<void> {
  await updateAptLists();
  if (await hasBackportsLists(backportsDir(guestDir))) {
    await updateAptLists(backportsAptOptions(backportsDir(guestDir)));
  }
}
