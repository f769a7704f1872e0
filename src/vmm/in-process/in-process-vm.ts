import { setTimeout as sleep } from 'node:timers/promises';
import { IllegalStateError, ValidationError } from '../../errors/index.ts';
import { type Latency, type LatencyKey, parseLatency } from '../simulator/latency.ts';
import { diskUsage, isCompleteSnapshot, writeSnapshotAtomically } from '../snapshot-dir.ts';
import type { EnsureOutcome, SandboxVm, SnapshotInfo, VmCrash, VmState } from '../vm-driver.ts';
import type { VmSpec } from '../vm-spec.ts';
import {
  IN_PROCESS_SNAPSHOT_FILES,
  readInProcessSnapshot,
  writeInProcessSnapshot,
} from './snapshot-files.ts';

/** The VMM environment variable that sets a VM's latencies, in the CH simulator's format (`boot=300,snapshot=20`). */
export const LATENCY_ENV = 'HANGAR_SIM_LATENCY';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** One in-process VM: what a VMM process would hold, kept in the worker's memory. */
export interface InProcessVmRecord {
  state: 'running' | 'paused';
  vcpus: number;
  memoryMib: number;
  diskPath: string;
  generation: number;
  bootedAt: string;
  latency: Latency;
}

/** The VMs of one backend by runtime dir: two handles for one sandbox see one VM, as with a process. */
export type InProcessVmTable = Map<string, InProcessVmRecord>;

/**
 * A sandbox's VM with no VM and no process behind it: its state lives in the backend's
 * table, each operation waits its configured latency, and snapshots are real files (a
 * small vm.json and a sparse memory file), so the worker's snapshot and restore paths run
 * unchanged. pid is always undefined. A new backend (a worker restart) starts with an empty
 * table: reattach() is false and the worker marks the sandbox crashed, as for a VMM that died.
 */
export class InProcessSandboxVm implements SandboxVm {
  readonly sandboxId: string;
  readonly pid: number | undefined = undefined;
  readonly #runtimeDir: string;
  readonly #table: InProcessVmTable;
  readonly #latency: Latency;

  constructor(sandboxId: string, runtimeDir: string, table: InProcessVmTable, latency: Latency) {
    this.sandboxId = sandboxId;
    this.#runtimeDir = runtimeDir;
    this.#table = table;
    this.#latency = latency;
  }

  async reattach(): Promise<boolean> {
    return this.#vm() !== undefined;
  }

  async state(): Promise<VmState> {
    return this.#vm()?.state ?? 'absent';
  }

  async ensureBooted(spec: VmSpec): Promise<EnsureOutcome> {
    const existing = this.#vm();
    if (existing !== undefined) {
      this.#assertSameDisk(existing, spec);
      return 'already';
    }
    const latency = this.#latencyFor(spec);
    await wait(latency, ['create', 'boot']);
    this.#table.set(this.#runtimeDir, {
      state: 'running',
      vcpus: spec.vcpus,
      memoryMib: spec.memoryMib,
      diskPath: spec.diskPath,
      generation: 1,
      bootedAt: new Date().toISOString(),
      latency,
    });
    return 'done';
  }

  async ensurePaused(): Promise<EnsureOutcome> {
    const vm = this.#require('pause');
    if (vm.state === 'paused') return 'already';
    await wait(vm.latency, ['pause']);
    vm.state = 'paused';
    return 'done';
  }

  async ensureResumed(): Promise<EnsureOutcome> {
    const vm = this.#require('resume');
    if (vm.state === 'running') return 'already';
    await wait(vm.latency, ['resume']);
    vm.state = 'running';
    return 'done';
  }

  async snapshotTo(dir: string): Promise<SnapshotInfo> {
    if (await isCompleteSnapshot(dir, IN_PROCESS_SNAPSHOT_FILES)) {
      return { dir, diskBytes: await diskUsage(dir), outcome: 'already' };
    }
    await this.ensurePaused();
    const vm = this.#require('snapshot');
    await writeSnapshotAtomically(dir, async (staging) => {
      await wait(vm.latency, ['snapshot'], { snapshot_per_gib: vm.memoryMib * MIB });
      await writeInProcessSnapshot(staging, {
        standIn: 'in-process',
        note: 'written by the hangar in-process VMM stand-in: no device state, no guest memory',
        vmState: 'paused',
        sandboxId: this.sandboxId,
        vcpus: vm.vcpus,
        memoryMib: vm.memoryMib,
        diskPath: vm.diskPath,
        generation: vm.generation,
        bootedAt: vm.bootedAt,
        snapshottedAt: new Date().toISOString(),
      });
    });
    return { dir, diskBytes: await diskUsage(dir), outcome: 'done' };
  }

  async restoreFrom(dir: string, spec: VmSpec, options: { resume: boolean }): Promise<EnsureOutcome> {
    let outcome: EnsureOutcome = 'already';
    let vm = this.#vm();
    if (vm !== undefined) {
      this.#assertSameDisk(vm, spec);
    } else {
      const snapshot = await readInProcessSnapshot(dir);
      const latency = this.#latencyFor(spec);
      await wait(latency, ['restore'], { restore_per_gib: snapshot.memoryMib * MIB });
      // The memory only fits a machine of the snapshot's shape: take it from there.
      vm = {
        state: 'paused',
        vcpus: snapshot.vcpus,
        memoryMib: snapshot.memoryMib,
        diskPath: spec.diskPath,
        generation: snapshot.generation,
        bootedAt: snapshot.bootedAt,
        latency,
      };
      this.#table.set(this.#runtimeDir, vm);
      outcome = 'done';
    }
    if (options.resume && vm.state === 'paused') {
      await wait(vm.latency, ['resume']);
      vm.state = 'running';
      outcome = 'done';
    }
    return outcome;
  }

  async shutdown(): Promise<EnsureOutcome> {
    const vm = this.#vm();
    if (vm === undefined) return 'already';
    await wait(vm.latency, ['shutdown']);
    this.#table.delete(this.#runtimeDir);
    return 'done';
  }

  /** No process can exit under an in-process VM: listeners are kept and never called. */
  onCrash(_listener: (crash: VmCrash) => void): () => void {
    return () => undefined;
  }

  #vm(): InProcessVmRecord | undefined {
    return this.#table.get(this.#runtimeDir);
  }

  #require(action: string): InProcessVmRecord {
    const vm = this.#vm();
    if (vm === undefined)
      throw new IllegalStateError(`cannot ${action}: sandbox ${this.sandboxId} has no VM`);
    return vm;
  }

  // As with a real VMM: a VM found running with someone else's disk is never adopted.
  #assertSameDisk(vm: InProcessVmRecord, spec: VmSpec): void {
    if (vm.diskPath !== spec.diskPath) {
      throw new IllegalStateError(
        `VM of ${this.sandboxId} runs disk ${vm.diskPath}, expected ${spec.diskPath}`,
      );
    }
  }

  // The backend's latencies, overridden per VM by HANGAR_SIM_LATENCY in its VMM environment.
  #latencyFor(spec: VmSpec): Latency {
    const text = spec.env[LATENCY_ENV];
    if (text === undefined) return this.#latency;
    try {
      return parseLatency(text, this.#latency);
    } catch (error) {
      throw new ValidationError(
        `invalid ${LATENCY_ENV}: ${(error as Error).message}`,
        { value: text },
        error,
      );
    }
  }
}

/** Waits the sum of `keys`' latencies plus each per-GiB latency times its bytes; no timer for 0. */
async function wait(
  latency: Latency,
  keys: readonly LatencyKey[],
  perGib: Partial<Record<LatencyKey, number>> = {},
): Promise<void> {
  let ms = keys.reduce((sum, key) => sum + latency[key], 0);
  for (const [key, bytes] of Object.entries(perGib) as [LatencyKey, number][]) {
    ms += latency[key] * (bytes / GIB);
  }
  if (ms > 0) await sleep(Math.round(ms));
}
