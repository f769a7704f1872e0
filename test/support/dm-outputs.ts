import type { Reply } from './recording-runner.ts';

// What losetup (util-linux 2.38.1), dmsetup (libdevmapper 1.02.185) and blockdev really print,
// word for word. Captured on the test machine where it could be (losetup, blockdev, dmsetup
// without a driver); the dm-driver answers follow libdevmapper's own message formats
// ("<op> ioctl on <name> <uuid> failed: <strerror>", hence the two spaces).

/** A dm ioctl refused with EBUSY (device open, or on create: the name is taken). */
export function dmBusy(op: 'create' | 'remove' | 'suspend', name: string): Reply {
  return {
    exitCode: 1,
    stderr: `device-mapper: ${op} ioctl on ${name}  failed: Device or resource busy\nCommand failed.`,
  };
}

/** `dmsetup remove` of a name that does not exist. */
export function dmRemoveAbsent(name: string): Reply {
  return {
    exitCode: 1,
    stderr: `device-mapper: remove ioctl on ${name}  failed: No such device or address\nCommand failed.`,
  };
}

/** `dmsetup info|table|status` of a name that does not exist. */
export const DM_INFO_ABSENT: Reply = { exitCode: 1, stderr: 'Device does not exist.\nCommand failed.' };

/** Any dmsetup command on a machine without the device-mapper driver (captured here). */
export const DM_NO_DRIVER: Reply = {
  exitCode: 1,
  stderr: [
    '/dev/mapper/control: open failed: No such device',
    'Failure to communicate with kernel device-mapper driver.',
    'Check that device-mapper is available in the kernel.',
    'Incompatible libdevmapper 1.02.185 (2022-05-18) and kernel driver (unknown version).',
    'Command failed.',
  ].join('\n'),
};

/** `dmsetup info NAME` of an existing device. */
export function dmInfo(
  name: string,
  options: { state?: 'ACTIVE' | 'SUSPENDED'; live?: boolean; openCount?: number; minor?: number } = {},
): string {
  return [
    `Name:              ${name}`,
    `State:             ${options.state ?? 'ACTIVE'}`,
    'Read Ahead:        256',
    `Tables present:    ${options.live === false ? 'None' : 'LIVE'}`,
    `Open count:        ${options.openCount ?? 0}`,
    'Event number:      0',
    `Major, minor:      253, ${options.minor ?? 0}`,
    `Number of targets: ${options.live === false ? 0 : 1}`,
  ].join('\n');
}

/** `dmsetup ls [--target T]`: "NAME\t(253:N)" lines, or "No devices found". */
export function dmList(names: readonly string[]): string {
  return names.length === 0 ? 'No devices found' : names.map((name, i) => `${name}\t(253:${i})`).join('\n');
}

/** `losetup -d` of a device still open on kernels that refuse instead of auto-clearing. */
export function loopDetachBusy(device: string): Reply {
  return { exitCode: 1, stderr: `losetup: ${device}: detach failed: Device or resource busy` };
}

/** `losetup -d` of a device with nothing attached (captured here). */
export function loopDetachAbsent(device: string): Reply {
  return { exitCode: 1, stderr: `losetup: ${device}: detach failed: No such device or address` };
}

/** `losetup --find --show` losing the race for a free device to another process. */
export function loopAttachBusy(file: string): Reply {
  return { exitCode: 1, stderr: `losetup: ${file}: failed to set up loop device: Device or resource busy` };
}

/** One entry of `losetup --json --list`. */
export interface LoopEntry {
  name: string;
  backFile: string;
  ro: boolean;
  autoclear?: boolean;
  majMin?: string;
}

/** `losetup --json --list` output in util-linux 2.38's layout (3-space indent, booleans). */
export function losetupJson(entries: readonly LoopEntry[], options: { majMin?: boolean } = {}): string {
  const devices = entries.map((entry) => {
    if (options.majMin) {
      return [
        `         "name": "${entry.name}"`,
        `         "maj:min": "  ${entry.majMin ?? '7:0'}  "`,
        `         "back-file": "${entry.backFile}"`,
        `         "ro": ${entry.ro}`,
        `         "autoclear": ${entry.autoclear ?? false}`,
        '         "offset": 0',
        '         "sizelimit": 0',
      ].join(',\n');
    }
    return [
      `         "name": "${entry.name}"`,
      '         "sizelimit": 0',
      '         "offset": 0',
      `         "autoclear": ${entry.autoclear ?? false}`,
      `         "ro": ${entry.ro}`,
      `         "back-file": "${entry.backFile}"`,
      '         "dio": false',
      '         "log-sec": 512',
    ].join(',\n');
  });
  const body = devices.map((device) => `      {\n${device}\n      }`).join(',\n');
  return `{\n   "loopdevices": [\n${body === '' ? '\n' : `${body}\n`}   ]\n}`;
}
