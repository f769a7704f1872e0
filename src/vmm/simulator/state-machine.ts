import type {
  DiskConfig,
  NetConfig,
  PciDeviceInfo,
  VmConfig,
  VmCounters,
  VmInfo,
} from '../cloud-hypervisor/schemas/index.ts';
import {
  alreadyCreated,
  migrating,
  notCreated,
  notRunning,
  refused,
  rustDebug,
  VM_ERROR,
} from './ch-errors.ts';
import {
  type DeviceList,
  deviceIds,
  guestMemoryBytes,
  memoryActualSize,
  type RamState,
  resizedConfig,
  resizedVm,
  resizedZone,
  withDevice,
  withDeviceIds,
  withoutDevice,
} from './config-edits.ts';
import { simCounters } from './counters.ts';
import type { SimEndpoint } from './endpoints.ts';
import type { VmResizeBody } from './request-bodies.ts';

/** What a snapshot carries besides the config: the simulator's stand-in for device state. */
export interface SimVmState {
  generation: number;
  bootedAt: string | undefined;
}

/** A VM the VMM owns, booted or restored from its config: Running or Paused, never anything else. */
interface SimVm extends SimVmState {
  state: 'Running' | 'Paused';
  ram: RamState;
  runningMs: number;
  runningSince: number | undefined;
  devices: { next: number };
  /** The power button was pressed while paused: the guest powers off when it runs again. */
  powerOffPending: boolean;
}

/** What the VMM process does once the call is answered: go on, or exit 0 (the guest powered off). */
export type SimAfter = 'continue' | 'exit';

/** A VM handed to a migration, as it goes on the wire. */
export interface SimMigratingVm {
  config: VmConfig;
  state: SimVmState;
  vmState: 'Running' | 'Paused';
}

/**
 * Cloud Hypervisor's VMM state without a guest (vmm/src/lib.rs): a VM config (vm.create) and,
 * apart from it, the VM booted or restored from it. vm.shutdown drops the VM and keeps the
 * config, so vm.info says Created and vm.boot works again; vm.delete forgets both. While a
 * send-migration holds the VM, every call that would touch it answers "migrating".
 */
export class SimVmm {
  #config: VmConfig | undefined;
  #vm: SimVm | undefined;
  #migration: { vm: SimVm; info: VmInfo } | undefined;

  /** Whether a VM config exists (created, shut down, restored or running). */
  get hasConfig(): boolean {
    return this.#config !== undefined;
  }

  info(): VmInfo {
    if (this.#migration !== undefined) return this.#migration.info;
    const config = this.#config;
    if (config === undefined) throw notCreated('vm.info');
    const vm = this.#vm;
    return {
      config,
      state: vm?.state ?? 'Created',
      memory_actual_size: memoryActualSize(config, vm !== undefined),
    };
  }

  create(config: VmConfig): void {
    if (this.#migration !== undefined) throw migrating('vm.create');
    if (this.#config !== undefined) throw alreadyCreated('vm.create');
    this.#config = config;
  }

  boot(): void {
    if (this.#vm !== undefined) throw alreadyCreated('vm.boot');
    if (this.#migration !== undefined) throw migrating('vm.boot');
    if (this.#config === undefined) throw refused('vm.boot', 404, VM_ERROR.missingConfig);
    this.#vm = this.#newVm(this.#config, { generation: 0, bootedAt: new Date().toISOString() }, 'Running');
  }

  pause(): void {
    const vm = this.#owned('vm.pause');
    if (vm.state === 'Paused') throw invalidTransition('vm.pause', 'Paused');
    this.#enter(vm, 'Paused');
  }

  resume(): SimAfter {
    const vm = this.#owned('vm.resume');
    if (vm.state === 'Running') throw invalidTransition('vm.resume', 'Running');
    this.#enter(vm, 'Running');
    return vm.powerOffPending ? 'exit' : 'continue';
  }

  /** Drops the VM (its config stays): vm.info then says Created. */
  shutdown(): void {
    this.#owned('vm.shutdown');
    this.#vm = undefined;
  }

  /** Shuts the VM down and boots a new one from the same config. */
  reboot(): void {
    if (this.#migration !== undefined) throw migrating('vm.reboot');
    const vm = this.#vm;
    if (vm === undefined || this.#config === undefined) throw notCreated('vm.reboot');
    this.#vm = this.#newVm(
      this.#config,
      { generation: vm.generation, bootedAt: new Date().toISOString() },
      'Running',
    );
  }

  /** Forgets the VM and its config; with neither, not an error. */
  delete(endpoint: 'vm.delete' | 'vmm.shutdown' = 'vm.delete'): void {
    if (this.#config === undefined) return;
    if (this.#migration !== undefined) throw migrating(endpoint);
    this.#vm = undefined;
    this.#config = undefined;
  }

  /** An ACPI power button press: a running guest powers off (and CH exits), a paused one when resumed. */
  powerButton(): SimAfter {
    const vm = this.#owned('vm.power-button');
    if (vm.state === 'Running') return 'exit';
    vm.powerOffPending = true;
    return 'continue';
  }

  counters(): VmCounters {
    const vm = this.#owned('vm.counters');
    const runningMs = vm.runningMs + (vm.runningSince === undefined ? 0 : Date.now() - vm.runningSince);
    return simCounters(this.#config!, runningMs / 1000);
  }

  resize(request: VmResizeBody): void {
    const config = this.#configFor('vm.resize');
    const vm = this.#vmOrConfigOnly('vm.resize');
    if (vm === undefined) this.#config = resizedConfig(config, request);
    else
      resizedVm(config, vm.ram, request, (next) => {
        this.#config = next;
      });
  }

  resizeZone(id: string, desiredRam: number): void {
    const config = this.#configFor('vm.resize-zone');
    const vm = this.#vmOrConfigOnly('vm.resize-zone');
    this.#config = resizedZone(config, id, desiredRam, vm !== undefined);
  }

  /** Hot-plugs a disk or NIC into a VM (its PCI address), or only adds it to the config (undefined). */
  addDevice(
    endpoint: 'vm.add-disk' | 'vm.add-net',
    list: DeviceList,
    device: DiskConfig | NetConfig,
  ): PciDeviceInfo | undefined {
    // CH checks the change on a copy of the config first: a bad id is refused even mid-migration.
    const cold = withDevice(endpoint, this.#configFor(endpoint), list, device);
    const vm = this.#vmOrConfigOnly(endpoint);
    if (vm === undefined) {
      this.#config = cold;
      return undefined;
    }
    const config = this.#config!;
    const prefix = list === 'disks' ? '_disk' : '_net';
    const id = device.id ?? `${prefix}${vm.devices.next++}`;
    this.#config = withDevice(endpoint, config, list, { ...device, id });
    const slot = (3 + deviceIds(this.#config).length).toString(16).padStart(2, '0');
    return { id, bdf: `0000:00:${slot}.0` };
  }

  removeDevice(id: string): void {
    const vm = this.#vm;
    if (this.#migration !== undefined) throw migrating('vm.remove-device');
    if (this.#config === undefined) throw notCreated('vm.remove-device');
    const next = withoutDevice(this.#config, id);
    if (next === undefined) {
      throw vm === undefined
        ? refused('vm.remove-device', 404, `No device with id ${rustDebug(id)} to remove`)
        : refused(
            'vm.remove-device',
            404,
            'Error from device manager',
            `Failed to find device corresponding to the given identifier: ${id}`,
          );
    }
    this.#config = next;
  }

  /** The paused VM a snapshot is taken of; the snapshot gets the next generation. */
  snapshotSource(): { config: VmConfig; state: SimVmState } {
    const vm = this.#owned('vm.snapshot');
    if (vm.state !== 'Paused') {
      throw refused(
        'vm.snapshot',
        500,
        'Cannot snapshot VM',
        'Failed to snapshot migratable component',
        'Trying to snapshot while VM is running',
      );
    }
    return { config: this.#config!, state: { generation: vm.generation + 1, bootedAt: vm.bootedAt } };
  }

  /** Records that a snapshot of the current VM was written. */
  snapshotTaken(generation: number): void {
    if (this.#vm !== undefined) this.#vm.generation = generation;
  }

  /** Refuses a restore into a VMM that has a VM, a migration, or just a config. */
  assertRestorable(): void {
    if (this.#vm !== undefined) throw alreadyCreated('vm.restore');
    if (this.#migration !== undefined) throw migrating('vm.restore');
    if (this.#config !== undefined) throw alreadyCreated('vm.restore');
  }

  /** Installs a restored or received VM: Paused, or Running when asked. */
  install(config: VmConfig, state: SimVmState, vmState: 'Running' | 'Paused'): void {
    this.#config = config;
    this.#vm = this.#newVm(config, state, 'Paused');
    if (vmState === 'Running') this.#enter(this.#vm, 'Running');
  }

  /** Hands the VM to a send-migration (vm.info answers as of now until `migrationEnded`). */
  startMigration(): SimMigratingVm {
    const vm = this.#vm!;
    this.#migration = { vm, info: this.info() };
    this.#vm = undefined;
    return {
      config: this.#config!,
      state: { generation: vm.generation, bootedAt: vm.bootedAt },
      vmState: vm.state,
    };
  }

  /** A finished migration drops the VM and its config; a failed one gives the VM back. */
  migrationEnded(sent: boolean): void {
    const migration = this.#migration;
    this.#migration = undefined;
    if (sent) this.#config = undefined;
    else this.#vm = migration?.vm;
  }

  /** Whether a send-migration holds the VM. */
  get migrating(): boolean {
    return this.#migration !== undefined;
  }

  /** Whether the VMM owns a VM (Running or Paused). */
  get hasVm(): boolean {
    return this.#vm !== undefined;
  }

  /** Whether the VM config can use shared memory (a local migration needs it). */
  get sharedMemory(): boolean {
    const memory = this.#config?.memory;
    return memory?.shared === true || memory?.hugepages === true;
  }

  /** Guest RAM of the current VM (0 with none): scales the simulated snapshot latency. */
  memoryBytes(): number {
    return this.#config === undefined ? 0 : guestMemoryBytes(this.#config);
  }

  #newVm(config: VmConfig, state: SimVmState, vmState: 'Running' | 'Paused'): SimVm {
    const devices = { next: deviceIds(config).length };
    this.#config = withDeviceIds(config, devices);
    const ramBytes = this.#config.memory?.size ?? 512 * 1024 * 1024;
    return {
      ...state,
      state: vmState,
      ram: { bootBytes: ramBytes, currentBytes: ramBytes },
      runningMs: 0,
      runningSince: vmState === 'Running' ? Date.now() : undefined,
      devices,
      powerOffPending: false,
    };
  }

  // The calls that need the VM itself answer "not running" with a config alone, as CH does.
  #owned(endpoint: SimEndpoint): SimVm {
    if (this.#vm !== undefined) return this.#vm;
    throw this.#migration === undefined ? notRunning(endpoint) : migrating(endpoint);
  }

  #configFor(endpoint: SimEndpoint): VmConfig {
    if (this.#config === undefined) throw notCreated(endpoint);
    return this.#config;
  }

  #vmOrConfigOnly(endpoint: SimEndpoint): SimVm | undefined {
    if (this.#migration !== undefined) throw migrating(endpoint);
    return this.#vm;
  }

  #enter(vm: SimVm, state: 'Running' | 'Paused'): void {
    if (vm.runningSince !== undefined) vm.runningMs += Date.now() - vm.runningSince;
    vm.runningSince = state === 'Running' ? Date.now() : undefined;
    vm.state = state;
  }
}

/** CH's answer to pause a paused VM or resume a running one (vm.rs VmState::valid_transition). */
function invalidTransition(endpoint: 'vm.pause' | 'vm.resume', state: 'Paused' | 'Running') {
  const verb = endpoint === 'vm.pause' ? 'pause' : 'resume';
  return refused(
    endpoint,
    500,
    `Cannot ${verb} VM`,
    `Failed to ${verb} migratable component`,
    `Invalid transition: InvalidStateTransition(${state}, ${state})`,
  );
}
