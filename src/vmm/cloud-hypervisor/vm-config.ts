import type { VmSpec } from '../vm-spec.ts';
import type { VmConfig } from './schemas/index.ts';

const MIB = 1024 * 1024;

/**
 * The VmConfig hangar sends for a sandbox. Defaults chosen for small, correct snapshots:
 * thp off (CH's default of on makes the memory file coarse and spoils sparseness), shared
 * memory, a balloon that gives freed pages back, serial to a file, console off, one fixed MAC.
 */
export function buildVmConfig(spec: VmSpec, serialLogPath: string): VmConfig {
  return {
    cpus: { boot_vcpus: spec.vcpus, max_vcpus: spec.vcpus },
    memory: { size: spec.memoryMib * MIB, shared: true, thp: false },
    payload: {
      kernel: spec.kernelPath,
      cmdline: spec.cmdline,
      ...(spec.initramfsPath === undefined ? {} : { initramfs: spec.initramfsPath }),
    },
    disks: [{ path: spec.diskPath, id: 'rootfs' }],
    net: [{ tap: spec.tap, mac: spec.mac, id: 'net0' }],
    rng: { src: '/dev/urandom' },
    balloon: { size: 0, deflate_on_oom: true, free_page_reporting: true },
    serial: { mode: 'File', file: serialLogPath },
    console: { mode: 'Off' },
  };
}
