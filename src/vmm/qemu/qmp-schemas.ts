import { z } from 'zod';

/** The first line QEMU sends on a QMP connection: its version and capabilities. */
export const QmpGreeting = z.object({
  QMP: z.object({
    version: z.object({
      qemu: z.object({ major: z.number().int(), minor: z.number().int(), micro: z.number().int() }),
      package: z.string().optional(),
    }),
    capabilities: z.array(z.string()),
  }),
});
export type QmpGreeting = z.infer<typeof QmpGreeting>;

/** A QMP failure as sent: a class (GenericError, CommandNotFound, ...) and a description. */
export const QmpErrorBody = z.object({ class: z.string(), desc: z.string() });
export type QmpErrorBody = z.infer<typeof QmpErrorBody>;

/** The answer to one `execute`: `return` or `error`, echoing our id. */
export const QmpReply = z.union([
  z.object({ id: z.unknown().optional(), return: z.unknown() }),
  z.object({ id: z.unknown().optional(), error: QmpErrorBody }),
]);
export type QmpReply = z.infer<typeof QmpReply>;

/** An asynchronous event (STOP, RESUME, SHUTDOWN, MIGRATION, ...). */
export const QmpEvent = z.object({
  event: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
  timestamp: z.object({ seconds: z.number(), microseconds: z.number() }),
});
export type QmpEvent = z.infer<typeof QmpEvent>;

/** QEMU 7.2's RunState values (qapi/run-state.json). A new value fails parsing loudly. */
export const RunState = z.enum([
  'debug',
  'inmigrate',
  'internal-error',
  'io-error',
  'paused',
  'postmigrate',
  'prelaunch',
  'finish-migrate',
  'restore-vm',
  'running',
  'save-vm',
  'shutdown',
  'suspended',
  'watchdog',
  'guest-panicked',
  'colo',
]);
export type RunState = z.infer<typeof RunState>;

/** The answer of query-status. */
export const StatusInfo = z.looseObject({ status: RunState, running: z.boolean() });
export type StatusInfo = z.infer<typeof StatusInfo>;

/** QEMU 7.2's MigrationStatus values (qapi/migration.json). */
export const MigrationStatus = z.enum([
  'none',
  'setup',
  'cancelling',
  'cancelled',
  'active',
  'postcopy-active',
  'postcopy-paused',
  'postcopy-recover',
  'completed',
  'failed',
  'colo',
  'pre-switchover',
  'device',
  'wait-unplug',
]);
export type MigrationStatus = z.infer<typeof MigrationStatus>;

/** The answer of query-migrate; `status` is absent before the first migration. */
export const MigrationInfo = z.looseObject({
  status: MigrationStatus.optional(),
  'error-desc': z.string().optional(),
  'total-time': z.number().optional(),
  ram: z.looseObject({ total: z.number(), transferred: z.number() }).optional(),
});
export type MigrationInfo = z.infer<typeof MigrationInfo>;

/** The answer of query-vm-generation-id: the vmgenid device's GUID, big-endian text. */
export const GuidInfo = z.object({ guid: z.uuid() });
export type GuidInfo = z.infer<typeof GuidInfo>;
