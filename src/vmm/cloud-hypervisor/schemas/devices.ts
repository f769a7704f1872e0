import { z } from 'zod';
import { ConsoleMode, Int16, Int64, RateLimiterConfig, Uint8 } from './scalars.ts';

const MAC = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;

/** Makes an object schema: exact (z.strictObject) for requests, tolerant for what CH reports. */
export type ObjectFactory = typeof z.strictObject;

/** The device sub-configs of a VmConfig, built with `object` so both flavours share one definition. */
export function defineDeviceSchemas(object: ObjectFactory) {
  const pci = { pci_segment: Int16.optional(), pci_device_id: Uint8.optional() };

  const DiskConfig = object({
    path: z.string().min(1).optional(),
    readonly: z.boolean().optional(),
    direct: z.boolean().optional(),
    iommu: z.boolean().optional(),
    num_queues: z.int().min(1).optional(),
    queue_size: z.int().min(1).optional(),
    vhost_user: z.boolean().optional(),
    vhost_socket: z.string().optional(),
    rate_limiter_config: RateLimiterConfig.optional(),
    ...pci,
    id: z.string().min(1).optional(),
    serial: z.string().optional(),
    rate_limit_group: z.string().optional(),
    backing_files: z.boolean().optional(),
    sparse: z.boolean().optional(),
    image_type: z.enum(['FixedVhd', 'Qcow2', 'Raw', 'Vhdx', 'Unknown']).optional(),
    lock_granularity: z.enum(['ByteRange', 'Full']).optional(),
  });

  const NetConfig = object({
    tap: z.string().min(1).max(15).optional(),
    ip: z.string().optional(),
    mask: z.string().optional(),
    mac: z.string().regex(MAC, 'must be a MAC address such as 02:fc:00:00:00:05').optional(),
    host_mac: z.string().regex(MAC, 'must be a MAC address').optional(),
    mtu: z.int().min(68).optional(),
    iommu: z.boolean().optional(),
    num_queues: z.int().min(2).optional(),
    queue_size: z.int().min(1).optional(),
    vhost_user: z.boolean().optional(),
    vhost_socket: z.string().optional(),
    vhost_mode: z.enum(['Client', 'Server']).optional(),
    id: z.string().min(1).optional(),
    ...pci,
    rate_limiter_config: RateLimiterConfig.optional(),
    offload_tso: z.boolean().optional(),
    offload_ufo: z.boolean().optional(),
    offload_csum: z.boolean().optional(),
  });

  const RngConfig = object({
    src: z.string().min(1),
    id: z.string().min(1).optional(),
    iommu: z.boolean().optional(),
    ...pci,
  });

  const BalloonConfig = object({
    size: Int64,
    id: z.string().min(1).optional(),
    iommu: z.boolean().optional(),
    ...pci,
    deflate_on_oom: z.boolean().optional(),
    free_page_reporting: z.boolean().optional(),
  });

  const ConsoleConfig = object({
    mode: ConsoleMode,
    file: z.string().optional(),
    socket: z.string().optional(),
    iommu: z.boolean().optional(),
    id: z.string().optional(),
    ...pci,
  });

  const SerialConfig = object({
    mode: ConsoleMode,
    file: z.string().optional(),
    socket: z.string().optional(),
  });

  const DebugConsoleConfig = object({
    mode: ConsoleMode,
    file: z.string().optional(),
    iobase: z.int().min(0).optional(),
  });

  return { DiskConfig, NetConfig, RngConfig, BalloonConfig, ConsoleConfig, SerialConfig, DebugConsoleConfig };
}
