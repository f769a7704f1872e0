// The VMM layer on its own: the backend-neutral interface, the Cloud Hypervisor and QEMU drivers,
// the in-process stand-in, and VMM processes.
export { CloudHypervisorBackend, findChBinary, simulatorBinary } from './cloud-hypervisor/ch-backend.ts';
export { ChSandboxVm } from './cloud-hypervisor/ch-sandbox-vm.ts';
export { InProcessBackend, type InProcessBackendOptions, InProcessSandboxVm } from './in-process/index.ts';
export {
  type FoundVmm,
  findVmmProcesses,
  type KilledVmm,
  killUnownedVmms,
} from './process/index.ts';
export { QemuBackend, QemuSandboxVm } from './qemu/index.ts';
export { selectVmmBackend, type VmmChoice } from './select-backend.ts';
export type {
  EnsureOutcome,
  SandboxVm,
  SnapshotInfo,
  VmCrash,
  VmmBackend,
  VmmBackendInfo,
  VmState,
} from './vm-driver.ts';
export { GUEST_MAC, GUEST_TAP, VmSpec, type VmSpecInput } from './vm-spec.ts';
