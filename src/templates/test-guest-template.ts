import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TemplateSpec } from './template-catalog.ts';
import { REPO_ROOT, testGuestPaths } from './test-guest.ts';

/**
 * The test guest as a template: its kernel and initramfs, a zeroed 64 MiB raw disk made in
 * `dir` (the guest writes its counter there), the endpoint that says it is ready and the one
 * that reseeds its CRNG.
 */
export async function testGuestTemplate(dir: string, repoRoot: string = REPO_ROOT): Promise<TemplateSpec> {
  const guest = testGuestPaths(repoRoot);
  await mkdir(dir, { recursive: true });
  const imagePath = join(dir, 'guest-base.img');
  await writeFile(imagePath, '');
  await truncate(imagePath, 64 * 1024 * 1024);
  return {
    templateId: 'guest',
    kernelPath: guest.kernelPath,
    initramfsPath: guest.initramfsPath,
    cmdline: guest.cmdline,
    imagePath,
    readiness: { port: 80, path: '/cgi-bin/ready', timeoutMs: 60_000, perGibMs: 30_000 },
    entropy: { port: 80, path: '/cgi-bin/reseed', timeoutMs: 20_000 },
  };
}
