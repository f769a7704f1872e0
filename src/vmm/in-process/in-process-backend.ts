import { type Latency, zeroLatency } from '../simulator/latency.ts';
import type { SandboxVm, VmmBackend, VmmBackendInfo } from '../vm-driver.ts';
import { InProcessSandboxVm, type InProcessVmTable } from './in-process-vm.ts';

/** Options of InProcessBackend. */
export interface InProcessBackendOptions {
  /** Per-operation latency in ms (the CH simulator's keys); default 0 for all. A VM's HANGAR_SIM_LATENCY overrides it. */
  latency?: Partial<Latency>;
}

/** What a heartbeat and the dashboard say about this backend. */
export const IN_PROCESS_DESCRIPTION =
  'in-process VMM stand-in: no VM and no VMM process; VM state lives in the worker’s memory and is ' +
  'lost when the worker restarts (control-plane benches and tests only)';

/**
 * A VMM backend with no VMM: every sandbox's VM is a record in this object's memory, each
 * operation waits its configured latency, and snapshots are real files. It exists so the
 * control plane (queues, records, real disks and network slots) can be driven at a scale
 * where one VMM process per sandbox is too heavy. Being in-process, a worker restart loses
 * every VM: reattach() answers false and reconcile marks the sandboxes crashed.
 */
export class InProcessBackend implements VmmBackend {
  readonly info: VmmBackendInfo = {
    kind: 'in-process-stand-in',
    standIn: true,
    version: 'none',
    description: IN_PROCESS_DESCRIPTION,
  };
  readonly #latency: Latency;
  readonly #vms: InProcessVmTable = new Map();

  constructor(options: InProcessBackendOptions = {}) {
    this.#latency = { ...zeroLatency(), ...options.latency };
  }

  /** How many VMs this backend holds right now (running or paused). */
  get vmCount(): number {
    return this.#vms.size;
  }

  sandbox(sandboxId: string, runtimeDir: string): SandboxVm {
    return new InProcessSandboxVm(sandboxId, runtimeDir, this.#vms, this.#latency);
  }
}
