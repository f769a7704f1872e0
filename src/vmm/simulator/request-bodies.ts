import { type ZodType, z } from 'zod';
import { DiskConfig, NetConfig, VmConfig } from '../cloud-hypervisor/schemas/index.ts';
import type { SimEndpoint } from './endpoints.ts';

// Request bodies as CH deserializes them (serde on its own structs). The small request types
// are as loose as CH's: a destination_url that is not a file:// URL parses, and CH refuses it
// later with a 500. Device and VM configs are checked against the spec's exact schemas, which
// is stricter than CH (it ignores unknown fields): a stand-in that refuses our own mistakes.

const u64 = z.int().min(0);
const u32 = z.int().min(0).max(0xffff_ffff);

const VmSnapshotBody = z.looseObject({ destination_url: z.string() });
const RestoreBody = z.looseObject({
  source_url: z.string(),
  prefault: z.boolean().optional(),
  memory_restore_mode: z.enum(['Copy', 'OnDemand']).optional(),
  resume: z.boolean().optional(),
});
const VmResizeBody = z.looseObject({
  desired_vcpus: u32.optional(),
  desired_ram: u64.optional(),
  desired_balloon: u64.optional(),
});
const VmResizeZoneBody = z.looseObject({ id: z.string(), desired_ram: u64 });
const VmRemoveDeviceBody = z.looseObject({ id: z.string() });
const MigrationMode = z.enum(['Precopy', 'Postcopy']);
const SendMigrationBody = z.looseObject({
  destination_url: z.string(),
  local: z.boolean().optional(),
  preserve_source: z.boolean().optional(),
  downtime_ms: z.int().min(1).optional(),
  timeout_s: z.int().min(1).optional(),
  timeout_strategy: z.enum(['Cancel', 'Ignore']).optional(),
  connections: u32.min(1).optional(),
  tls_dir: z.string().optional(),
  memory_mode: MigrationMode.optional(),
});
const ReceiveMigrationBody = z.looseObject({
  receiver_url: z.string(),
  tls_dir: z.string().optional(),
  memory_mode: MigrationMode.optional(),
  zone_updates: z.array(z.looseObject({ id: z.string(), host_numa_node: u32 })).optional(),
});

/** vm.snapshot's body as CH reads it. */
export type VmSnapshotBody = z.infer<typeof VmSnapshotBody>;
/** vm.restore's body (and --restore) as CH reads it. */
export type RestoreBody = z.infer<typeof RestoreBody>;
/** vm.resize's body. */
export type VmResizeBody = z.infer<typeof VmResizeBody>;
/** vm.resize-zone's body. */
export type VmResizeZoneBody = z.infer<typeof VmResizeZoneBody>;
/** vm.send-migration's body. */
export type SendMigrationBody = z.infer<typeof SendMigrationBody>;
/** vm.receive-migration's body. */
export type ReceiveMigrationBody = z.infer<typeof ReceiveMigrationBody>;

/** An endpoint's body: its schema, and the fields CH's struct has no default for (serde names the first missing one). */
export interface BodySpec {
  schema: ZodType;
  required: readonly string[];
}

/** The body of every endpoint that takes one. */
export const BODIES: Partial<Record<SimEndpoint, BodySpec>> = {
  'vm.create': { schema: VmConfig, required: [] },
  'vm.snapshot': { schema: VmSnapshotBody, required: ['destination_url'] },
  'vm.restore': { schema: RestoreBody, required: ['source_url'] },
  'vm.resize': { schema: VmResizeBody, required: [] },
  'vm.resize-zone': { schema: VmResizeZoneBody, required: ['id', 'desired_ram'] },
  'vm.add-net': { schema: NetConfig, required: [] },
  'vm.add-disk': { schema: DiskConfig, required: [] },
  'vm.remove-device': { schema: VmRemoveDeviceBody, required: ['id'] },
  'vm.send-migration': { schema: SendMigrationBody, required: ['destination_url'] },
  'vm.receive-migration': { schema: ReceiveMigrationBody, required: ['receiver_url'] },
};
