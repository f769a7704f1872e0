export { copyIntoPlace, cowPathOf, flattenArgv, sparseCopyArgv, usedBytesOf } from './cow-file.ts';
export { DmDevices } from './dm-devices.ts';
export {
  DM_ABSENT,
  DM_PREFIX,
  type DmInfo,
  dmDevicePath,
  dmName,
  dmsetupArgs,
  parseDmInfo,
  parseDmList,
  parseSnapshotStatus,
  type SnapshotStatus,
} from './dmsetup.ts';
export { DeviceMapperProvider, type DeviceMapperProviderOptions, deviceMapperAvailable } from './provider.ts';
export { type SweepContext, sweepDeviceMapper } from './sweep.ts';
export {
  CHUNK_SECTORS,
  cowBytesFor,
  exceptionsPerArea,
  originSectors,
  parseSnapshotTable,
  SECTOR_BYTES,
  type SnapshotTable,
  snapshotTable,
} from './table.ts';
