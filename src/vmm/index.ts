// The VMM layer on its own: the backend-neutral interface and the Cloud Hypervisor driver.
export { CloudHypervisorBackend, findChBinary, simulatorBinary } from './cloud-hypervisor/ch-backend.ts';
export { ChSandboxVm } from './cloud-hypervisor/ch-sandbox-vm.ts';
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
