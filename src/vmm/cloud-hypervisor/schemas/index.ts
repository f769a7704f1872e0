// zod schemas of the Cloud Hypervisor REST API (specs/cloud-hypervisor.yaml), spec names and fields.
export {
  MemoryRestoreMode,
  MigrationMode,
  ReceiveMigrationData,
  RestoreConfig,
  SendMigrationData,
  VmRemoveDevice,
  VmResize,
  VmResizeZone,
  VmSnapshotConfig,
} from './requests.ts';
export { ConsoleMode, dropNulls, RateLimiterConfig } from './scalars.ts';
export {
  BalloonConfig,
  ConsoleConfig,
  CpusConfig,
  DebugConsoleConfig,
  DiskConfig,
  MemoryConfig,
  NetConfig,
  PayloadConfig,
  ReportedVmConfig,
  RngConfig,
  SerialConfig,
  VmConfig,
} from './vm-config.ts';
export { DeviceNode, PciDeviceInfo, VmCounters, VmInfo, VmmPingResponse, VmState } from './vm-info.ts';
