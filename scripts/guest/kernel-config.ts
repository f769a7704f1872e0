// What the guest kernel's build config (boot/config-<version> in the kernel package) says about
// VM generation ids: a guest reseeds its CRNG on a new one only with CONFIG_VMGENID.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** CONFIG_VMGENID: built in (y), a module (m), or absent (unset, or VIRT_DRIVERS off as in 6.1 cloud). */
export type VmgenidSupport = 'built-in' | 'module' | 'absent';

/** The VMGENID line of a kernel config's text. */
export function vmgenidSupport(configText: string): VmgenidSupport {
  const value = /^CONFIG_VMGENID=([ym])$/m.exec(configText)?.[1];
  return value === 'y' ? 'built-in' : value === 'm' ? 'module' : 'absent';
}

/** Reads `<bootDir>/config-<kernelVersion>` from the extracted kernel package. */
export async function readKernelVmgenid(bootDir: string, kernelVersion: string): Promise<VmgenidSupport> {
  return vmgenidSupport(await readFile(join(bootDir, `config-${kernelVersion}`), 'utf8'));
}
