// Compiles the guest's reseed helper (reseed.c) with the build machine's gcc, statically
// against glibc's libc.a (Debian's libc6-dev), so it runs in the busybox initramfs with no
// shared libraries. busybox cannot issue the RNDADDENTROPY / RNDRESEEDCRNG ioctls itself.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { CommandError } from '../../src/errors/index.ts';

/** The helper's C source, kept beside this file (it is part of the guest's recipe). */
export const RESEED_HELPER_SOURCE = fileURLToPath(new URL('reseed.c', import.meta.url));

/** The compiler the guest build needs; build-guest.ts skips the build when it is missing. */
export const RESEED_HELPER_COMPILER = 'gcc';

/**
 * Compiles reseed.c into `workDir` and returns the stripped static executable. A missing
 * libc.a shows as a link error: the CommandError says to install libc6-dev.
 */
export async function compileReseedHelper(workDir: string): Promise<Buffer> {
  const output = join(workDir, 'hangar-reseed');
  const args = ['-static', '-Os', '-s', '-Wall', '-Wextra', '-o', output, RESEED_HELPER_SOURCE];
  const result = await execa(RESEED_HELPER_COMPILER, args, {
    reject: false,
    stdin: 'ignore',
    timeout: 120_000,
  });
  if (result.exitCode !== 0) {
    const hint = /cannot find -lc|libc\.a/.test(String(result.stderr))
      ? " (a static link needs glibc's libc.a: apt-get install libc6-dev)"
      : '';
    throw new CommandError(
      [RESEED_HELPER_COMPILER, ...args],
      result.exitCode,
      `${String(result.stderr)}${hint}`,
      result,
    );
  }
  return readFile(output);
}
