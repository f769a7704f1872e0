// VMM processes, whatever the VMM: launch, pidfile, re-attach, crash watch, termination.
export { describeExit, VmmExitedError, withLogTail } from './errors.ts';
export {
  DEFAULT_POLL_INTERVAL_MS,
  type ExitStatus,
  type ExitWatch,
  watchChildExit,
  watchPidExit,
} from './exit-watch.ts';
export {
  type FoundVmm,
  findVmmProcesses,
  findVmmProcessesIn,
  vmmArguments,
} from './find-vmm-processes.ts';
export { type KilledVmm, killUnownedVmms } from './kill-unowned-vmms.ts';
export { LaunchSpec, launchDetached } from './launch.ts';
export { readLogTail } from './log-tail.ts';
export { assertNetnsName, inNamespaces, inNetns, inPrivateMountNs } from './namespaces.ts';
export { PidfileRecord, readPidfile, removePidfile, writePidfile } from './pidfile.ts';
export {
  isAlive,
  matchesIdentity,
  type ProcessIdentity,
  type ProcStat,
  readCmdline,
  readStartTime,
  readStat,
  startDateOf,
} from './proc.ts';
export { SandboxProcess, type SandboxProcessOptions } from './sandbox-process.ts';
export {
  DEFAULT_TERMINATE_GRACE,
  type TerminateOptions,
  type TerminateOutcome,
  terminate,
} from './terminate.ts';
export {
  type ReattachOptions,
  type RunningVmm,
  type VmmExit,
  VmmProcess,
  type VmmProcessInit,
} from './vmm-process.ts';
export { type WaitReadyOptions, waitReady } from './wait-ready.ts';
