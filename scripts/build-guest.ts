// `npm run guest:build`: builds (or confirms current) the test guest under .cache/guest.
// Flags: --force rebuilds even when the stamp matches; --backports-kernel takes the cloud
// kernel from the release's backports (6.12 on bookworm: CONFIG_VMGENID, but flaky under
// QEMU 7.2 TCG), and a later build without the flag goes back to the machine's kernel.

import { createLogger } from '../src/logging/logger.ts';
import { findExecutable } from '../src/vmm/process/find-executable.ts';
import { buildTestGuest } from './guest/build.ts';
import { RESEED_HELPER_COMPILER } from './guest/reseed-helper.ts';

const force = process.argv.includes('--force');
const kernelSource = process.argv.includes('--backports-kernel') ? 'backports' : 'machine';
// Without QEMU the guest has nothing to run on, and the suites that need it skip themselves;
// without apt (not Debian) or gcc (the reseed helper) it cannot be built. Either way say so
// and let the tests go on.
let missing: string | undefined;
for (const tool of ['qemu-system-x86_64', 'apt-get', 'dpkg-deb', RESEED_HELPER_COMPILER]) {
  if ((await findExecutable(tool, undefined)) === undefined) missing ??= tool;
}
if (missing !== undefined) {
  console.log(
    `guest:build skipped: ${missing} is not installed (the QEMU suites will say they were skipped)`,
  );
  process.exit(0);
}
const logger = createLogger({ name: 'guest-build', level: process.env.HANGAR_LOG_LEVEL ?? 'warn' });
try {
  const { manifest, built } = await buildTestGuest({ force, logger, kernelSource });
  const { kernel, busybox } = manifest.packages;
  console.log(
    `test guest ${built ? 'built' : 'up to date'}: ${kernel.name} ${kernel.version}, ${busybox.name} ${busybox.version}`,
  );
  console.log(`  kernel    ${manifest.kernelPath}`);
  console.log(`  initramfs ${manifest.initramfsPath} (${manifest.initramfsBytes} bytes)`);
  console.log(`  cmdline   ${manifest.cmdline}`);
} catch (error) {
  console.error('guest:build failed:', error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
