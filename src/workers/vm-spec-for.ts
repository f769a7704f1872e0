import type { RootDisk } from '../devicemapper/root-disk-provider.ts';
import type { SlotLayout } from '../network/index.ts';
import { type LedgerEntry, resourceIdOf } from '../state/host-ledger.ts';
import { VmSpec } from '../vmm/vm-spec.ts';
import type { HostContext } from './host-context.ts';

/** What a VM is built from: its resources' name, template and shape (a sandbox's or a pool VM's). */
export type VmShape = Pick<LedgerEntry, 'sandboxId' | 'vmId' | 'template' | 'vcpus' | 'memoryMib'>;

/** The VM a sandbox (or pool VM) runs: its template's kernel, its own disk, inside its slot's namespace. */
export function vmSpecFor(ctx: HostContext, entry: VmShape, slot: SlotLayout, disk: RootDisk): VmSpec {
  const template = ctx.templates.get(entry.template);
  return VmSpec.parse({
    sandboxId: resourceIdOf(entry),
    vcpus: entry.vcpus,
    memoryMib: entry.memoryMib,
    kernelPath: template.kernelPath,
    ...(template.initramfsPath === undefined ? {} : { initramfsPath: template.initramfsPath }),
    cmdline: template.cmdline,
    diskPath: disk.devicePath,
    netns: slot.netns,
    tap: slot.tap,
    mac: slot.guestMac,
    env: ctx.vmmEnv,
  });
}
