import { z } from 'zod';
import { defineDeviceSchemas, type ObjectFactory } from './devices.ts';
import { dropNulls, Int64 } from './scalars.ts';

/** VmConfig and its CPU, memory and payload parts, built with `object` (exact or tolerant). */
function defineVmConfigSchemas(object: ObjectFactory) {
  const devices = defineDeviceSchemas(object);

  const CpusConfig = object({
    boot_vcpus: z.int().min(1),
    max_vcpus: z.int().min(1),
    topology: object({
      threads_per_core: z.int().min(1).optional(),
      cores_per_die: z.int().min(1).optional(),
      dies_per_package: z.int().min(1).optional(),
      packages: z.int().min(1).optional(),
    }).optional(),
    kvm_hyperv: z.boolean().optional(),
    max_phys_bits: z.int().min(1).optional(),
    nested: z.boolean().optional(),
    affinity: z.array(object({ vcpu: z.int().min(0), host_cpus: z.array(z.int().min(0)) })).optional(),
    features: object({ amx: z.boolean().optional() }).optional(),
    core_scheduling: z.enum(['Vm', 'Vcpu', 'Off']).optional(),
  }).refine((cpus) => cpus.boot_vcpus <= cpus.max_vcpus, {
    path: ['boot_vcpus'],
    message: 'must not exceed max_vcpus',
  });

  const MemoryZoneConfig = object({
    id: z.string().min(1),
    size: Int64,
    file: z.string().optional(),
    mergeable: z.boolean().optional(),
    shared: z.boolean().optional(),
    hugepages: z.boolean().optional(),
    hugepage_size: Int64.optional(),
    host_numa_node: z.int().min(0).optional(),
    hotplug_size: Int64.optional(),
    hotplugged_size: Int64.optional(),
    prefault: z.boolean().optional(),
    reserve: z.boolean().optional(),
  });

  const MemoryConfig = object({
    size: Int64,
    hotplug_size: Int64.optional(),
    hotplugged_size: Int64.optional(),
    mergeable: z.boolean().optional(),
    hotplug_method: z.enum(['Acpi', 'VirtioMem']).optional(),
    shared: z.boolean().optional(),
    hugepages: z.boolean().optional(),
    hugepage_size: Int64.optional(),
    prefault: z.boolean().optional(),
    reserve: z.boolean().optional(),
    thp: z.boolean().optional(),
    zones: z.array(MemoryZoneConfig).optional(),
  });

  const PayloadConfig = object({
    firmware: z.string().min(1).optional(),
    kernel: z.string().min(1).optional(),
    cmdline: z.string().optional(),
    initramfs: z.string().min(1).optional(),
    igvm: z.string().min(1).optional(),
    host_data: z.string().optional(),
  }).refine((p) => p.kernel !== undefined || p.firmware !== undefined || p.igvm !== undefined, {
    path: ['kernel'],
    message: 'a payload needs a kernel, firmware or igvm',
  });

  const VmConfig = object({
    cpus: CpusConfig.optional(),
    memory: MemoryConfig.optional(),
    payload: PayloadConfig,
    rate_limit_groups: z
      .array(z.looseObject({ id: z.string(), rate_limiter_config: z.looseObject({}) }))
      .optional(),
    disks: z.array(devices.DiskConfig).optional(),
    net: z.array(devices.NetConfig).optional(),
    rng: devices.RngConfig.optional(),
    balloon: devices.BalloonConfig.optional(),
    serial: devices.SerialConfig.optional(),
    console: devices.ConsoleConfig.optional(),
    debug_console: devices.DebugConsoleConfig.optional(),
    iommu: z.boolean().optional(),
    watchdog: z.boolean().optional(),
    pvpanic: z.boolean().optional(),
    landlock_enable: z.boolean().optional(),
  });

  return { ...devices, CpusConfig, MemoryZoneConfig, MemoryConfig, PayloadConfig, VmConfig };
}

// Requests we build are exact: an unknown or misspelt field is our bug, caught before sending.
const exact = defineVmConfigSchemas(z.strictObject);

// What CH reports (vm.info, a snapshot's config.json) carries fields we do not model; they are
// kept, not rejected or stripped, so a config read, edited and written back loses nothing. The
// cast keeps the exact static types: unknown fields exist at run time but are not ours to use.
const tolerant = defineVmConfigSchemas(z.looseObject as unknown as ObjectFactory);

/** A VM's whole configuration as sent to vm.create (spec VmConfig); exact. */
export const VmConfig = exact.VmConfig;
export type VmConfig = z.infer<typeof VmConfig>;

/** A VmConfig as CH reports it (vm.info, config.json): `null`s dropped, unknown fields kept. */
export const ReportedVmConfig = z.preprocess(dropNulls, tolerant.VmConfig);

/** vCPU counts and topology (spec CpusConfig). */
export const CpusConfig = exact.CpusConfig;
export type CpusConfig = z.infer<typeof CpusConfig>;

/** Guest RAM (spec MemoryConfig); send thp=false so memory snapshots stay sparse. */
export const MemoryConfig = exact.MemoryConfig;
export type MemoryConfig = z.infer<typeof MemoryConfig>;

/** Kernel, initramfs and command line (spec PayloadConfig). */
export const PayloadConfig = exact.PayloadConfig;
export type PayloadConfig = z.infer<typeof PayloadConfig>;

/** A block device (spec DiskConfig). */
export const DiskConfig = exact.DiskConfig;
export type DiskConfig = z.infer<typeof DiskConfig>;

/** A virtio-net device on a TAP (spec NetConfig); also the body of vm.add-net. */
export const NetConfig = exact.NetConfig;
export type NetConfig = z.infer<typeof NetConfig>;

/** The entropy device (spec RngConfig). */
export const RngConfig = exact.RngConfig;
export type RngConfig = z.infer<typeof RngConfig>;

/** The memory balloon (spec BalloonConfig). */
export const BalloonConfig = exact.BalloonConfig;
export type BalloonConfig = z.infer<typeof BalloonConfig>;

/** The virtio console (spec ConsoleConfig). */
export const ConsoleConfig = exact.ConsoleConfig;
export type ConsoleConfig = z.infer<typeof ConsoleConfig>;

/** The legacy serial port (spec SerialConfig). */
export const SerialConfig = exact.SerialConfig;
export type SerialConfig = z.infer<typeof SerialConfig>;

/** The debug console port (spec DebugConsoleConfig). */
export const DebugConsoleConfig = exact.DebugConsoleConfig;
export type DebugConsoleConfig = z.infer<typeof DebugConsoleConfig>;
