// The in-process VMM stand-in: VMs kept in the worker's memory, for control-plane benches and tests.
export {
  IN_PROCESS_DESCRIPTION,
  InProcessBackend,
  type InProcessBackendOptions,
} from './in-process-backend.ts';
export { InProcessSandboxVm, LATENCY_ENV } from './in-process-vm.ts';
export { IN_PROCESS_SNAPSHOT_FILES, MEMORY_FILE, STATE_FILE } from './snapshot-files.ts';
