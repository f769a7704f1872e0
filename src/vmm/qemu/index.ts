// The QEMU backend: QMP client, command line, and the SandboxVm driving a QEMU per sandbox.
export { kvmUsable, resolveAccel } from './accel.ts';
export { MigrationFailedError, migrationTimeoutMs } from './migration.ts';
export { MEMORY_FILE, restoreMigrationUri, snapshotMigrationUri } from './migration-uri.ts';
export { buildQemuArgs, type QemuAccel, type QemuArgsInput } from './qemu-args.ts';
export { detectQemuVersion, findQemuBinary, QemuBackend, type QemuBackendOptions } from './qemu-backend.ts';
export {
  QemuSandboxVm,
  type QemuSandboxVmOptions,
  type QemuShutdownTimeouts,
} from './qemu-sandbox-vm.ts';
export { QEMU_SNAPSHOT_FILES, readSnapshotRecord } from './qemu-snapshot.ts';
export { QmpClient, type QmpClientOptions } from './qmp-client.ts';
export { QmpError, QmpUnreachableError } from './qmp-errors.ts';
export * from './qmp-schemas.ts';
export { isResumable, vmStateOf } from './run-state.ts';
export { readSpecFile, SPEC_FILE, SpecRecord, specRecord, writeSpecFile } from './spec-file.ts';
