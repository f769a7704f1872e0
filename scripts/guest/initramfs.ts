// Lays out the guest's root filesystem as cpio members and gzips it: busybox and its applet
// links, the reseed helper, /init, the virtio modules, the disk helper and the CGI endpoints.

import { gzipSync } from 'node:zlib';
import { buildCpio, type CpioEntry } from './cpio.ts';
import { CGI_SCRIPTS, DISK_HELPER, GUEST_APPLETS, initScript, RESEED_HELPER_PATH } from './guest-scripts.ts';
import type { GuestModule } from './modules.ts';

const DIRECTORIES = [
  'bin',
  'dev',
  'proc',
  'sys',
  'run',
  'tmp',
  'lib',
  'lib/modules',
  'lib/hangar',
  'www',
  'www/cgi-bin',
];

/** The binaries and modules the guest is made of, besides its scripts. */
export interface GuestBinaries {
  /** busybox-static's /bin/busybox. */
  busybox: Uint8Array;
  /** The static reseed helper compiled from scripts/guest/reseed.c. */
  reseedHelper: Uint8Array;
  modules: readonly GuestModule[];
}

/** The guest rootfs's members, parents first. Modules land flat at /lib/modules/<name>.ko. */
export function initramfsEntries({ busybox, reseedHelper, modules }: GuestBinaries): CpioEntry[] {
  return [
    ...DIRECTORIES.map((path): CpioEntry => ({ kind: 'dir', path, mode: path === 'tmp' ? 0o1777 : 0o755 })),
    // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1, mode: 0o600 },
    { kind: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    ...GUEST_APPLETS.map(
      (applet): CpioEntry => ({ kind: 'symlink', path: `bin/${applet}`, target: 'busybox' }),
    ),
    { kind: 'file', path: RESEED_HELPER_PATH, data: reseedHelper, mode: 0o755 },
    ...modules.map(
      (module): CpioEntry => ({ kind: 'file', path: `lib/modules/${module.name}.ko`, data: module.data }),
    ),
    { kind: 'file', path: 'lib/hangar/disk.sh', data: DISK_HELPER },
    ...Object.entries(CGI_SCRIPTS).map(
      ([name, text]): CpioEntry => ({ kind: 'file', path: `www/cgi-bin/${name}`, data: text, mode: 0o755 }),
    ),
    {
      kind: 'file',
      path: 'init',
      data: initScript(modules.map((module) => module.name)),
      mode: 0o755,
    },
  ];
}

/** The gzip'd newc archive the kernel unpacks as its initramfs. */
export function buildInitramfs(binaries: GuestBinaries): Buffer {
  return gzipSync(buildCpio(initramfsEntries(binaries)), { level: 9 });
}
