import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SlotLayout } from '../../src/network/index.ts';
import { testGuestPaths } from '../../src/templates/test-guest.ts';
import { QemuSandboxVm } from '../../src/vmm/qemu/qemu-sandbox-vm.ts';
import { VmSpec } from '../../src/vmm/vm-spec.ts';

/** The test guest's spec for sandbox `id` in `slot`, with a blank 16 MiB disk made under `dir`. */
export async function testGuestSpec(
  dir: string,
  id: string,
  slot: SlotLayout,
  memoryMib = 256,
): Promise<VmSpec> {
  const disk = join(dir, `${id}.img`);
  await writeFile(disk, '');
  await truncate(disk, 16 * 1024 * 1024);
  const guest = testGuestPaths();
  return VmSpec.parse({
    sandboxId: id,
    vcpus: 1,
    memoryMib,
    kernelPath: guest.kernelPath,
    initramfsPath: guest.initramfsPath,
    cmdline: guest.cmdline,
    diskPath: disk,
    netns: slot.netns,
  });
}

/** A driver for sandbox `id` on QEMU under TCG, its runtime files in `<dir>/run/<id>`; TCG boots take a while. */
export function tcgVm(binary: string, dir: string, id: string): QemuSandboxVm {
  return new QemuSandboxVm(id, join(dir, 'run', id), { binary, accel: 'tcg', readyTimeoutMs: 20_000 });
}
