import { z } from 'zod';
import { ReportedVmConfig } from './vm-config.ts';

// Everything here is a response: objects are loose because CH adds fields between releases.

/** A VM's state as CH reports it (spec VmState). */
export const VmState = z.enum(['Created', 'Running', 'Shutdown', 'Paused', 'BreakPoint']);
export type VmState = z.infer<typeof VmState>;

/** One node of vm.info's device tree (spec DeviceNode). */
export const DeviceNode = z.looseObject({
  id: z.string().optional(),
  resources: z.array(z.unknown()).optional(),
  children: z.array(z.string()).optional(),
  pci_bdf: z.string().optional(),
});

/** The answer of vm.info (spec VmInfo). */
export const VmInfo = z.looseObject({
  config: ReportedVmConfig,
  state: VmState,
  memory_actual_size: z.int().min(0).optional(),
  device_tree: z.record(z.string(), DeviceNode).optional(),
});
export type VmInfo = z.infer<typeof VmInfo>;

/** The answer of vmm.ping (spec VmmPingResponse). */
export const VmmPingResponse = z.looseObject({
  build_version: z.string().optional(),
  version: z.string(),
  pid: z.int().optional(),
  features: z.array(z.string()).optional(),
});
export type VmmPingResponse = z.infer<typeof VmmPingResponse>;

/** The answer of vm.counters: device id -> counter name -> value (spec VmCounters). */
export const VmCounters = z.record(z.string(), z.record(z.string(), z.number().min(0)));
export type VmCounters = z.infer<typeof VmCounters>;

/** The answer of a hot-plug (vm.add-net and friends): the new device's id and PCI address. */
export const PciDeviceInfo = z.looseObject({ id: z.string(), bdf: z.string() });
export type PciDeviceInfo = z.infer<typeof PciDeviceInfo>;
