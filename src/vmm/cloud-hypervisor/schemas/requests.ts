import { z } from 'zod';
import { Int64 } from './scalars.ts';

// Request bodies we build: exact, and a little stricter than the spec where CH itself is
// (the spec leaves destination_url and id optional; CH cannot act without them).

const FileUrl = z.string().regex(/^file:\/\/\/[^\0]*$/, 'must be a file:///absolute/dir URL');

/** Body of vm.snapshot: where CH writes config.json, state.json and memory-ranges. */
export const VmSnapshotConfig = z.strictObject({ destination_url: FileUrl });
export type VmSnapshotConfig = z.infer<typeof VmSnapshotConfig>;

/** How restore brings memory back: read it all (Copy) or fault it in with userfaultfd (OnDemand). */
export const MemoryRestoreMode = z.enum(['Copy', 'OnDemand']);
export type MemoryRestoreMode = z.infer<typeof MemoryRestoreMode>;

/** Body of vm.restore (spec RestoreConfig); a restored VM is Paused unless `resume`. */
export const RestoreConfig = z
  .strictObject({
    source_url: FileUrl,
    prefault: z.boolean().optional(),
    memory_restore_mode: MemoryRestoreMode.optional(),
    resume: z.boolean().optional(),
  })
  .refine((c) => !(c.memory_restore_mode === 'OnDemand' && c.prefault === true), {
    path: ['prefault'],
    message: 'OnDemand memory restore excludes prefault',
  });
export type RestoreConfig = z.infer<typeof RestoreConfig>;

/** Body of vm.resize: the new vCPU count, RAM or balloon size; at least one. */
export const VmResize = z
  .strictObject({
    desired_vcpus: z.int().min(1).optional(),
    desired_ram: Int64.optional(),
    desired_balloon: Int64.optional(),
  })
  .refine(
    (r) => r.desired_vcpus !== undefined || r.desired_ram !== undefined || r.desired_balloon !== undefined,
    {
      path: ['desired_vcpus'],
      message: 'give desired_vcpus, desired_ram or desired_balloon',
    },
  );
export type VmResize = z.infer<typeof VmResize>;

/** Body of vm.remove-device: the id of a device (as given at add time or assigned by CH). */
export const VmRemoveDevice = z.strictObject({ id: z.string().min(1) });
export type VmRemoveDevice = z.infer<typeof VmRemoveDevice>;

/** Body of vm.resize-zone: the new size of a memory zone (one named in memory.zones). */
export const VmResizeZone = z.strictObject({ id: z.string().min(1), desired_ram: Int64 });
export type VmResizeZone = z.infer<typeof VmResizeZone>;

// CH accepts `unix:<path>` and `tcp:<host>:<port>` (`[v6]:<port>`), port a u16.
const MigrationUrl = z
  .string()
  .regex(/^(unix:.+|tcp:(\[[^\]]+\]|[^:[\]]+):\d{1,5})$/, 'must be unix:<path> or tcp:<host>:<port>');

/** How a migration moves memory: all before the switch (Precopy) or on demand after (Postcopy). */
export const MigrationMode = z.enum(['Precopy', 'Postcopy']);
export type MigrationMode = z.infer<typeof MigrationMode>;

/** Body of vm.send-migration (spec SendMigrationData); CH answers once a worker has taken the VM. */
export const SendMigrationData = z.strictObject({
  destination_url: MigrationUrl,
  local: z.boolean().optional(),
  downtime_ms: z.int().min(1).optional(),
  timeout_s: z.int().min(1).optional(),
  timeout_strategy: z.enum(['Cancel', 'Ignore']).optional(),
  connections: z.int().min(1).max(128).optional(),
  tls_dir: z.string().min(1).optional(),
  memory_mode: MigrationMode.optional(),
});
export type SendMigrationData = z.infer<typeof SendMigrationData>;

/** Body of vm.receive-migration (spec ReceiveMigrationData); CH answers once the VM is in. */
export const ReceiveMigrationData = z.strictObject({
  receiver_url: MigrationUrl,
  tls_dir: z.string().min(1).optional(),
  memory_mode: MigrationMode.optional(),
  zone_updates: z.array(z.strictObject({ id: z.string().min(1), host_numa_node: z.int().min(0) })).optional(),
});
export type ReceiveMigrationData = z.infer<typeof ReceiveMigrationData>;
