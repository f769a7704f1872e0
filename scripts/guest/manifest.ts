// guest.json, what a build produced, and the stamp that decides whether a build can be skipped.

import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TEST_GUEST_CMDLINE } from '../../src/templates/test-guest.ts';
import type { GuestPackages } from './apt.ts';

const PackageRef = z.object({ name: z.string(), version: z.string(), suite: z.string().optional() }).strict();

/** guest.json: what the build produced and from what. */
export const TestGuestManifest = z
  .object({
    /** uname -r of the guest kernel, e.g. 6.1.0-56-cloud-amd64. */
    kernelVersion: z.string(),
    /** The kernel's CONFIG_VMGENID: whether it reseeds its CRNG on a new VM generation id. */
    vmgenid: z.enum(['built-in', 'module', 'absent']),
    packages: z.object({ kernel: PackageRef, busybox: PackageRef }).strict(),
    kernelPath: z.string(),
    initramfsPath: z.string(),
    cmdline: z.string(),
    /** Modules in the order /init loads them. */
    modules: z.array(z.string()),
    initramfsBytes: z.number().int(),
    builtAt: z.string(),
  })
  .strict();
export type TestGuestManifest = z.infer<typeof TestGuestManifest>;

/**
 * A hash of this builder's own sources (scripts, cpio writer, module picking, the reseed
 * helper's C): editing one rebuilds.
 */
async function recipeHash(): Promise<string> {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const hash = createHash('sha256').update(TEST_GUEST_CMDLINE);
  for (const name of (await readdir(dir)).filter((file) => /\.(ts|c)$/.test(file)).sort()) {
    hash.update(name).update(await readFile(join(dir, name)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** The stamp of a build: the package versions and the builder's recipe hash. */
export async function stampFor(packages: GuestPackages): Promise<string> {
  return `${JSON.stringify({ kernel: packages.kernel, busybox: packages.busybox, recipe: await recipeHash() })}\n`;
}
