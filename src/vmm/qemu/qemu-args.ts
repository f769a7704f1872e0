import { ValidationError } from '../../errors/index.ts';
import { inNetns } from '../process/namespaces.ts';
import type { VmSpec } from '../vm-spec.ts';

/** How QEMU executes guest code: hardware KVM, or TCG software emulation. */
export type QemuAccel = 'kvm' | 'tcg';

/** Everything one QEMU command line is made of. */
export interface QemuArgsInput {
  /** Default 'qemu-system-x86_64'. */
  binary?: string;
  accel: QemuAccel;
  spec: VmSpec;
  qmpSocket: string;
  serialLog: string;
  /** QEMU's own pidfile (-pidfile); hangar's launcher writes its own, so usually absent. */
  pidfile?: string;
  /** A migration URI to load the VM from (-incoming); the VM then starts paused (-S). */
  incoming?: string;
}

// QEMU's option syntax separates key=value pairs with commas: a comma in a path would
// smuggle in another option, so every path is checked, not quoted.
const SAFE_PATH = /^\/[^,\0]*$/;

function checkedPath(field: string, path: string): string {
  if (!SAFE_PATH.test(path)) {
    throw new ValidationError(
      `invalid ${field} ${JSON.stringify(path)}: must be an absolute path without commas`,
      {
        field,
        value: path,
      },
    );
  }
  return path;
}

/**
 * A VM generation id device whose GUID QEMU draws afresh at every start. The GUID is not
 * part of the migration stream (only where the guest keeps it is), so a restore's new QEMU
 * writes its own GUID into the restored guest's memory and raises the ACPI notification:
 * a Linux guest with CONFIG_VMGENID (5.18 and later) then reseeds its CRNG at once.
 */
export const VMGENID_DEVICE = 'vmgenid,guid=auto';

/**
 * A virtio entropy device fed from the host (QEMU's built-in getrandom backend), as the CH
 * backend's VmConfig gives every guest one (`rng: /dev/urandom`). Without it a guest without
 * RDRAND (TCG's default CPU) has an unready CRNG for seconds after boot, and its first read
 * of /dev/urandom spins the vCPU generating jitter entropy.
 */
export const RNG_DEVICE = 'virtio-rng-pci';

/**
 * The QEMU command line of one sandbox VM (pure): q35, no default devices, the guest
 * serial console to a file, QMP on a Unix socket, the root disk as raw virtio (it may be a
 * loop or dm device), the namespace's TAP as virtio-net with the fixed guest MAC, a virtio
 * entropy source, a VM generation id, and -no-shutdown so a guest power-off leaves QEMU up in state 'shutdown'
 * as CH does.
 */
export function buildQemuArgs(input: QemuArgsInput): string[] {
  const { spec } = input;
  const args = [
    input.binary ?? 'qemu-system-x86_64',
    '-accel',
    input.accel,
    '-machine',
    'q35',
    '-m',
    `${spec.memoryMib}`,
    '-smp',
    `${spec.vcpus}`,
    '-nodefaults',
    '-no-user-config',
    '-no-shutdown',
    '-display',
    'none',
    '-serial',
    `file:${checkedPath('serialLog', input.serialLog)}`,
    '-qmp',
    `unix:${checkedPath('qmpSocket', input.qmpSocket)},server=on,wait=off`,
    ...(input.pidfile === undefined ? [] : ['-pidfile', checkedPath('pidfile', input.pidfile)]),
    '-kernel',
    checkedPath('kernelPath', spec.kernelPath),
    ...(spec.initramfsPath === undefined
      ? []
      : ['-initrd', checkedPath('initramfsPath', spec.initramfsPath)]),
    '-append',
    spec.cmdline,
    '-drive',
    `file=${checkedPath('diskPath', spec.diskPath)},if=virtio,format=raw,cache=writeback`,
    '-netdev',
    `tap,id=n0,ifname=${spec.tap},script=no,downscript=no`,
    '-device',
    `virtio-net-pci,netdev=n0,mac=${spec.mac}`,
    '-device',
    RNG_DEVICE,
    '-device',
    VMGENID_DEVICE,
    ...(input.incoming === undefined ? [] : ['-S', '-incoming', input.incoming]),
  ];
  return spec.netns === undefined ? args : inNetns(args, spec.netns);
}
