import type { DiskConfig, NetConfig, VmConfig } from '../cloud-hypervisor/schemas/index.ts';
import { refused, type SimApiFailure } from './ch-errors.ts';
import type { SimEndpoint } from './endpoints.ts';
import type { VmResizeBody } from './request-bodies.ts';

// Edits of a VmConfig as CH makes them (vmm/src/lib.rs, vm.rs, config.rs). Pure functions:
// the state machine decides which applies (a VM config alone, or a VM that runs from it).

const MIB = 1024 * 1024;
/** An ACPI memory hot-plug adds DIMMs of a multiple of this (memory_manager.rs hotplug_ram_region). */
const DIMM_GRANULE = 128 * MIB;

/** The device lists the simulator models. */
export type DeviceList = 'disks' | 'net';

/** The running VM's side of a resize: RAM at boot and now (ACPI hot-plug grows the latter). */
export interface RamState {
  bootBytes: number;
  currentBytes: number;
}

/** Guest RAM in bytes as CH's MemoryConfig::total_size counts it (boot size, zones, hot-plugged). */
export function guestMemoryBytes(config: VmConfig): number {
  const zones = (config.memory?.zones ?? []).reduce((sum, zone) => sum + zone.size, 0);
  return (config.memory?.size ?? 512 * MIB) + zones + hotpluggedBytes(config);
}

/** vm.info's memory_actual_size: RAM less the balloon for a VM, RAM without hot-plugged parts for a config alone. */
export function memoryActualSize(config: VmConfig, hasVm: boolean): number {
  const base = guestMemoryBytes(config) - hotpluggedBytes(config);
  if (!hasVm) return base;
  return Math.max(0, base - (config.balloon?.size ?? 0)) + hotpluggedBytes(config);
}

function hotpluggedBytes(config: VmConfig): number {
  const zones = (config.memory?.zones ?? []).reduce((sum, zone) => sum + (zone.hotplugged_size ?? 0), 0);
  return (config.memory?.hotplugged_size ?? 0) + zones;
}

/** Ids of the config's disks and NICs (undefined ids skipped). */
export function deviceIds(config: VmConfig): string[] {
  return [...(config.disks ?? []), ...(config.net ?? [])].flatMap((d) => (d.id === undefined ? [] : [d.id]));
}

/** CH names devices without an id when it creates them (_disk0, _net1): one counter for all kinds. */
export function withDeviceIds(config: VmConfig, counter: { next: number }): VmConfig {
  return {
    ...config,
    disks: config.disks?.map((disk) => ({ ...disk, id: disk.id ?? `_disk${counter.next++}` })),
    net: config.net?.map((net) => ({ ...net, id: net.id ?? `_net${counter.next++}` })),
  };
}

/**
 * A config with one more disk or NIC, validated as CH validates the change on a clone first
 * (config.rs VmConfig::validate): an id starting with "__" is 400, a repeated one 409.
 */
export function withDevice(
  endpoint: SimEndpoint,
  config: VmConfig,
  list: DeviceList,
  device: DiskConfig | NetConfig,
): VmConfig {
  const id = device.id;
  if (id !== undefined) {
    const invalid = (status: number, why: string): SimApiFailure =>
      refused(endpoint, status, 'Failed to validate config', why);
    if (id.startsWith('__')) throw invalid(400, `Identifier ${id} is not valid`);
    if (deviceIds(config).includes(id)) throw invalid(409, `Identifier ${id} is not unique`);
  }
  return list === 'disks'
    ? { ...config, disks: [...(config.disks ?? []), device as DiskConfig] }
    : { ...config, net: [...(config.net ?? []), device as NetConfig] };
}

/** A config without the device `id`, or undefined when it has none by that id. */
export function withoutDevice(config: VmConfig, id: string): VmConfig | undefined {
  if (!deviceIds(config).includes(id)) return undefined;
  return {
    ...config,
    disks: config.disks?.filter((d) => d.id !== id),
    net: config.net?.filter((n) => n.id !== id),
  };
}

/** vm.resize with no VM: the config takes the values as given, unchecked (lib.rs Vmm::vm_resize). */
export function resizedConfig(config: VmConfig, request: VmResizeBody): VmConfig {
  let next = config;
  if (request.desired_vcpus !== undefined)
    next = { ...next, cpus: { max_vcpus: 1, ...next.cpus, boot_vcpus: request.desired_vcpus } };
  if (request.desired_ram !== undefined)
    next = { ...next, memory: { ...next.memory, size: request.desired_ram } };
  if (request.desired_balloon !== undefined && next.balloon !== undefined)
    next = { ...next, balloon: { ...next.balloon, size: request.desired_balloon } };
  return next;
}

/**
 * vm.resize of a VM (vm.rs Vm::resize): vCPUs, then RAM, then the balloon, each written to the
 * config once done, so a later part failing leaves the earlier ones applied (`applied`).
 */
export function resizedVm(
  config: VmConfig,
  ram: RamState,
  request: VmResizeBody,
  applied: (config: VmConfig) => void,
): void {
  let next = config;
  const fail = (...causes: string[]) => {
    applied(next);
    return refused('vm.resize', 500, ...causes);
  };
  const present = config.cpus?.boot_vcpus ?? 1;
  const wanted = request.desired_vcpus;
  if (wanted !== undefined && wanted !== present) {
    if (wanted < 1) throw fail('Error from CPU manager', 'Requested zero vCPUs');
    if (wanted > (config.cpus?.max_vcpus ?? 1))
      throw fail('Error from CPU manager', 'Requested vCPUs exceed maximum');
    next = { ...next, cpus: { max_vcpus: 1, ...next.cpus, boot_vcpus: wanted } };
  }
  if (request.desired_ram !== undefined) next = resizedRam(next, ram, request.desired_ram, fail);
  if (request.desired_balloon !== undefined) {
    if (next.balloon === undefined)
      throw fail('Error from device manager', "Missing virtio-balloon, can't proceed as expected");
    next = { ...next, balloon: { ...next.balloon, size: request.desired_balloon } };
  }
  applied(next);
}

function resizedRam(
  config: VmConfig,
  ram: RamState,
  desired: number,
  fail: (...causes: string[]) => SimApiFailure,
): VmConfig {
  const memory = config.memory ?? { size: ram.bootBytes };
  if (memory.hotplug_method === 'VirtioMem') {
    if (desired < ram.bootBytes)
      throw fail(
        'Memory manager error',
        `Invalid resize request: desired_size = ${desired} below boot size = ${ram.bootBytes}`,
      );
    if (desired > ram.bootBytes + (memory.hotplug_size ?? 0))
      throw fail(
        'Memory manager error',
        'Failed to virtio-mem resize',
        'hangar simulator: the size exceeds hotplug_size',
      );
    const plugged = desired - memory.size;
    return { ...config, memory: { ...memory, hotplugged_size: plugged > 0 ? plugged : undefined } };
  }
  if (desired > ram.currentBytes) {
    const added = desired - ram.currentBytes;
    if (added % DIMM_GRANULE !== 0)
      throw fail('Memory manager error', 'The requested hotplug memory addition is not a valid size');
    if (desired > ram.bootBytes + (memory.hotplug_size ?? 0))
      throw fail('Memory manager error', 'Not enough space in the hotplug RAM region');
    ram.currentBytes = desired;
  }
  // CH writes the size into the config whether or not RAM was added, for the next boot.
  return { ...config, memory: { ...memory, size: desired } };
}

/** vm.resize-zone (vm.rs Vm::resize_zone, memory_manager.rs resize_zone): a VM grows a zone by virtio-mem; a config alone takes the size. */
export function resizedZone(config: VmConfig, id: string, desired: number, hasVm: boolean): VmConfig {
  const zones = config.memory?.zones ?? [];
  const zone = zones.find((z) => z.id === id);
  if (config.memory === undefined || zone === undefined)
    throw refused('vm.resize-zone', 500, 'Failed resizing a memory zone');
  const edit = (change: Partial<typeof zone>) => ({
    ...config,
    memory: { ...config.memory!, zones: zones.map((z) => (z.id === id ? { ...z, ...change } : z)) },
  });
  if (!hasVm) return edit({ size: desired });
  if (desired < zone.size)
    throw refused(
      'vm.resize-zone',
      500,
      'Memory manager error',
      `Invalid resize request: desired_size = ${desired} below boot size = ${zone.size}`,
    );
  if (zone.hotplug_size === undefined)
    throw refused('vm.resize-zone', 500, 'Memory manager error', 'No virtio-mem resizing handler found');
  return edit({ hotplugged_size: desired - zone.size });
}
