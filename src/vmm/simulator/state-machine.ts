import { ErrorCode, HangarError } from '../../errors/index.ts';
import type {
  NetConfig,
  PciDeviceInfo,
  VmConfig,
  VmCounters,
  VmInfo,
  VmResize,
  VmState,
} from '../cloud-hypervisor/schemas/index.ts';

/** An error answer of the simulated API: the HTTP status and CH-style error chain. */
export class SimApiFailure extends HangarError {
  readonly status: number;
  readonly chain: string[];

  constructor(status: number, chain: string[]) {
    super(ErrorCode.VmmApi, chain.join(': '), { details: { status, chain } });
    this.status = status;
    this.chain = chain;
  }
}

/** What a snapshot carries besides the config: the simulator's stand-in for device state. */
export interface SimVmState {
  generation: number;
  bootedAt: string | undefined;
}

interface SimVm extends SimVmState {
  config: VmConfig;
  state: VmState;
  runningMs: number;
  runningSince: number | undefined;
  nextDevice: number;
}

// Real CH answers 404 only for "no VM" and 500 for every wrong-state call (never the spec's 405).
const notCreated = (action: string) =>
  new SimApiFailure(404, ['Error from API', `The VM could not be ${action}`, 'VM is not created']);
const wrongState = (action: string, why: string) =>
  new SimApiFailure(500, ['Error from API', `The VM could not be ${action}`, why]);

/** Bytes of guest RAM a config gives (boot size plus hot-plugged). */
export function guestMemoryBytes(config: VmConfig): number {
  return (config.memory?.size ?? 512 * 1024 * 1024) + (config.memory?.hotplugged_size ?? 0);
}

/**
 * Cloud Hypervisor's VM state machine without a guest: no VM -> Created -> Running <-> Paused,
 * Running | Paused | Created -> Shutdown -> Running, delete back to no VM.
 */
export class SimVmm {
  #vm: SimVm | undefined;

  /** Whether a VM exists (created or restored). */
  get hasVm(): boolean {
    return this.#vm !== undefined;
  }

  info(): VmInfo {
    const vm = this.#require('queried');
    const balloon = vm.config.balloon?.size ?? 0;
    return { config: vm.config, state: vm.state, memory_actual_size: guestMemoryBytes(vm.config) - balloon };
  }

  create(config: VmConfig): void {
    if (this.#vm !== undefined) throw wrongState('created', 'VM is already created');
    const vm: SimVm = {
      config,
      state: 'Created',
      generation: 0,
      bootedAt: undefined,
      runningMs: 0,
      runningSince: undefined,
      nextDevice: 0,
    };
    vm.config = {
      ...config,
      disks: config.disks?.map((disk) => ({ ...disk, id: disk.id ?? `_disk${vm.nextDevice++}` })),
      net: config.net?.map((net) => ({ ...net, id: net.id ?? `_net${vm.nextDevice++}` })),
    };
    this.#vm = vm;
  }

  boot(): void {
    const vm = this.#require('booted');
    if (vm.state === 'Running' || vm.state === 'Paused') throw wrongState('booted', 'VM is already booted');
    vm.bootedAt = new Date().toISOString();
    this.#enter(vm, 'Running');
  }

  pause(): void {
    const vm = this.#require('paused');
    if (vm.state === 'Paused') throw wrongState('paused', 'VM is already paused');
    if (vm.state !== 'Running') throw wrongState('paused', 'VM is not running');
    this.#enter(vm, 'Paused');
  }

  resume(): void {
    const vm = this.#require('resumed');
    if (vm.state !== 'Paused') throw wrongState('resumed', 'VM is not paused');
    this.#enter(vm, 'Running');
  }

  shutdown(): void {
    const vm = this.#require('shut down');
    if (vm.state === 'Shutdown') throw wrongState('shut down', 'VM is already shut down');
    this.#enter(vm, 'Shutdown');
  }

  reboot(): void {
    const vm = this.#require('rebooted');
    if (vm.state !== 'Running' && vm.state !== 'Paused') throw wrongState('rebooted', 'VM is not booted');
    vm.bootedAt = new Date().toISOString();
    this.#enter(vm, 'Running');
  }

  /** Forgets the VM; like CH, deleting when there is none is not an error. */
  delete(): void {
    this.#vm = undefined;
  }

  /** The guest answers an ACPI power button by powering off. */
  powerButton(): void {
    const vm = this.#require('powered off');
    if (vm.state !== 'Running') throw wrongState('powered off', 'VM is not running');
    this.#enter(vm, 'Shutdown');
  }

  counters(): VmCounters {
    const vm = this.#require('queried');
    if (vm.state !== 'Running' && vm.state !== 'Paused') throw wrongState('queried', 'VM is not running');
    const seconds =
      (vm.runningMs + (vm.runningSince === undefined ? 0 : Date.now() - vm.runningSince)) / 1000;
    const n = (rate: number) => Math.floor(seconds * rate);
    const counters: VmCounters = {};
    for (const disk of vm.config.disks ?? []) {
      counters[disk.id!] = {
        read_bytes: n(4096 * 50),
        read_ops: n(50),
        write_bytes: n(4096 * 10),
        write_ops: n(10),
      };
    }
    for (const net of vm.config.net ?? []) {
      counters[net.id!] = { rx_bytes: n(1500 * 4), rx_frames: n(4), tx_bytes: n(1500 * 3), tx_frames: n(3) };
    }
    return counters;
  }

  resize(request: VmResize): void {
    const vm = this.#require('resized');
    if (vm.state !== 'Created' && vm.state !== 'Running') throw wrongState('resized', `VM is ${vm.state}`);
    const { cpus, memory, balloon } = vm.config;
    if (request.desired_vcpus !== undefined) {
      const max = cpus?.max_vcpus ?? 1;
      if (request.desired_vcpus > max)
        throw wrongState('resized', `Desired vCPUs ${request.desired_vcpus} exceed max_vcpus ${max}`);
      vm.config = {
        ...vm.config,
        cpus: { ...(cpus ?? { max_vcpus: max }), boot_vcpus: request.desired_vcpus },
      };
    }
    if (request.desired_ram !== undefined) {
      const base = memory?.size ?? 512 * 1024 * 1024;
      const room = memory?.hotplug_size ?? 0;
      if (request.desired_ram < base || request.desired_ram > base + room) {
        throw wrongState(
          'resized',
          `Desired RAM must be between ${base} and ${base + room} bytes (memory.hotplug_size)`,
        );
      }
      vm.config = {
        ...vm.config,
        memory: { ...(memory ?? { size: base }), hotplugged_size: request.desired_ram - base },
      };
    }
    if (request.desired_balloon !== undefined) {
      if (balloon === undefined) throw wrongState('resized', 'No balloon device');
      if (request.desired_balloon > guestMemoryBytes(vm.config))
        throw wrongState('resized', 'Balloon larger than guest RAM');
      vm.config = { ...vm.config, balloon: { ...balloon, size: request.desired_balloon } };
    }
  }

  /** Hot-plugs a NIC into a booted VM (its PCI address), or cold-adds it to the config (undefined). */
  addNet(config: NetConfig): PciDeviceInfo | undefined {
    const vm = this.#require('updated');
    const id = config.id ?? `_net${vm.nextDevice++}`;
    if (this.#deviceIds(vm).includes(id)) {
      throw new SimApiFailure(409, [
        'Error from API',
        'The VM could not be updated',
        `Identifier ${id} is not unique`,
      ]);
    }
    vm.config = { ...vm.config, net: [...(vm.config.net ?? []), { ...config, id }] };
    if (vm.state !== 'Running' && vm.state !== 'Paused') return undefined;
    const slot = (3 + this.#deviceIds(vm).length).toString(16).padStart(2, '0');
    return { id, bdf: `0000:00:${slot}.0` };
  }

  removeDevice(id: string): void {
    const vm = this.#require('updated');
    if (!this.#deviceIds(vm).includes(id)) {
      throw new SimApiFailure(404, [
        'Error from API',
        'The VM could not be updated',
        `No device with identifier ${id}`,
      ]);
    }
    vm.config = {
      ...vm.config,
      disks: vm.config.disks?.filter((d) => d.id !== id),
      net: vm.config.net?.filter((n) => n.id !== id),
    };
  }

  /** The paused VM a snapshot is taken of; the snapshot gets the next generation. */
  snapshotSource(): { config: VmConfig; state: SimVmState } {
    const vm = this.#require('snapshotted');
    if (vm.state !== 'Paused') throw wrongState('snapshotted', 'VM is not paused');
    return { config: vm.config, state: { generation: vm.generation + 1, bootedAt: vm.bootedAt } };
  }

  /** Records that a snapshot of the current VM was written. */
  snapshotTaken(generation: number): void {
    if (this.#vm !== undefined) this.#vm.generation = generation;
  }

  /** Refuses a restore into a VMM that already has a VM. */
  assertRestorable(): void {
    if (this.#vm !== undefined) throw wrongState('restored', 'VM is already created');
  }

  /** Loads a snapshot: the VM is Paused, or Running with `resume`. */
  restore(config: VmConfig, state: SimVmState, resume: boolean): void {
    this.assertRestorable();
    const devices = (config.disks?.length ?? 0) + (config.net?.length ?? 0);
    const vm: SimVm = {
      config,
      ...state,
      state: 'Paused',
      runningMs: 0,
      runningSince: undefined,
      nextDevice: devices,
    };
    this.#vm = vm;
    if (resume) this.#enter(vm, 'Running');
  }

  /** Guest RAM of the current VM (0 with none): scales the simulated snapshot latency. */
  memoryBytes(): number {
    return this.#vm === undefined ? 0 : guestMemoryBytes(this.#vm.config);
  }

  #require(action: string): SimVm {
    if (this.#vm === undefined) throw notCreated(action);
    return this.#vm;
  }

  #enter(vm: SimVm, state: VmState): void {
    if (vm.runningSince !== undefined) vm.runningMs += Date.now() - vm.runningSince;
    vm.runningSince = state === 'Running' ? Date.now() : undefined;
    vm.state = state;
  }

  #deviceIds(vm: SimVm): string[] {
    return [...(vm.config.disks ?? []), ...(vm.config.net ?? [])].map((d) => d.id ?? '');
  }
}
