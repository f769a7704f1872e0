export { type BusyRetryOptions, DeviceBusyError, retryOnBusy } from './busy-retry.ts';
export { type DiskSpace, diskSpace, diskUsage } from './disk-usage.ts';
export { DeviceMapperProvider, type DeviceMapperProviderOptions, deviceMapperAvailable } from './dm/index.ts';
export { FileCowProvider, type FileCowProviderOptions } from './file/provider.ts';
export type { CopyMethod } from './file/reflink.ts';
export { LoopRegistry, type LoopRegistryOptions } from './loop-registry.ts';
export type { LoopDevice } from './losetup.ts';
export type { BaseImage, RootDisk, RootDiskProvider, SweepReport } from './root-disk-provider.ts';
export {
  DM_CONTROL,
  type RootDiskKind,
  type SelectedRootDisk,
  type SelectRootDiskOptions,
  selectRootDiskProvider,
} from './select-provider.ts';
