import type { VmSpec } from './vm-spec.ts';

/** A VM's lifecycle state as the worker sees it, whatever the backend. */
export type VmState = 'absent' | 'created' | 'running' | 'paused' | 'shutdown';

/** An exit of the VMM process that nobody asked for. */
export interface VmCrash {
  sandboxId: string;
  pid: number;
  code: number | null;
  signal: string | null;
  logTail: string;
  at: Date;
}

/** What an idempotent step did: the worker reports "already paused" differently from "paused". */
export type EnsureOutcome = 'done' | 'already';

/** A snapshot on disk: memory and device state of one paused VM. */
export interface SnapshotInfo {
  dir: string;
  /** Bytes really used on disk (st_blocks x 512), not apparent size. */
  diskBytes: number;
  outcome: EnsureOutcome;
}

/**
 * One sandbox's VM, driven through idempotent ensures: each looks at the real state first
 * (is the process alive, what does the VMM say) so repeating a step after a crash converges.
 * Cloud Hypervisor, its simulator, QEMU and the in-process stand-in implement it; the worker
 * cannot tell them apart.
 */
export interface SandboxVm {
  readonly sandboxId: string;
  /** The VMM's pid, if a process is running or was found again. */
  readonly pid: number | undefined;
  /** Looks for a VMM already running for this sandbox (after a worker restart) and adopts it. */
  reattach(): Promise<boolean>;
  state(): Promise<VmState>;
  ensureBooted(spec: VmSpec): Promise<EnsureOutcome>;
  ensurePaused(): Promise<EnsureOutcome>;
  ensureResumed(): Promise<EnsureOutcome>;
  /** Pauses if needed, writes into a staging directory and renames it to `dir`. */
  snapshotTo(dir: string): Promise<SnapshotInfo>;
  /** Starts a VMM from a snapshot taken by any sandbox, with this sandbox's disk and network. */
  restoreFrom(dir: string, spec: VmSpec, options: { resume: boolean }): Promise<EnsureOutcome>;
  /** Stops the VM and its VMM with escalation; a no-op when nothing runs. */
  shutdown(): Promise<EnsureOutcome>;
  /** Subscribes to crashes: exits we did not ask for. Returns the unsubscribe. */
  onCrash(listener: (crash: VmCrash) => void): () => void;
}

/** Which VMM runs the VMs of a host; `standIn` is true for the simulator and the in-process stand-in. */
export interface VmmBackendInfo {
  kind: 'cloud-hypervisor' | 'qemu' | 'in-process-stand-in';
  standIn: boolean;
  version: string;
  description: string;
}

/** Makes SandboxVm handles for one host; one per worker. */
export interface VmmBackend {
  readonly info: VmmBackendInfo;
  /** The handle for a sandbox; `runtimeDir` holds its socket, pidfile and logs. */
  sandbox(sandboxId: string, runtimeDir: string): SandboxVm;
}
