// `npm run guest:build`: builds (or confirms current) the test guest under .cache/guest.
// Flags: --force rebuilds even when the stamp matches.

import { createLogger } from '../src/logging/logger.ts';
import { buildTestGuest } from './guest/build.ts';

const force = process.argv.includes('--force');
const logger = createLogger({ name: 'guest-build', level: process.env.HANGAR_LOG_LEVEL ?? 'warn' });
try {
  const { manifest, built } = await buildTestGuest({ force, logger });
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
