// The library backend apps import: `import { HangarClient } from 'hangar'`.
export {
  AbortedError,
  ConflictError,
  CorruptStateError,
  ErrorCode,
  HangarError,
  IllegalStateError,
  IncompatibleError,
  NotFoundError,
  TimeoutError,
  TransferError,
  UnsignedJobError,
  ValidationError,
} from '../errors/index.ts';
export type {
  ErrorInfo,
  HangarEvent,
  HangarEventType,
  PositionedEvent,
  SandboxState,
} from '../events/event-schemas.ts';
export type {
  BatchResult,
  DeleteSnapshotResult,
  EnsureOutcome,
  GroupResult,
  ResultOf,
  SandboxResult,
  SnapshotResult,
  StateResult,
} from '../queues/job-results.ts';
export type { RedisTls } from '../redis/redis-tls.ts';
export type { JobKeyInput } from '../signing/job-key.ts';
export type { HostHeartbeat, SandboxRecord, SnapshotRecord } from '../state/record-schemas.ts';
export type { ImportAnswer } from '../transfer/transfer-client.ts';
export {
  type CallOptions,
  type CreateInput,
  type EventsOptions,
  HangarClient,
  type HangarClientOptions,
  type RestoreInput,
  type SandboxSelector,
  type SnapshotInput,
} from './hangar-client.ts';
export { JobHandle, type JobRef, type ResultOptions } from './job-handle.ts';
export { HostLostError, JobFailedError, NoCapacityError } from './producer-errors.ts';
export type { RestorePlace } from './restore-target.ts';
export type { BatchHandle, BatchOptions } from './snapshot-batch.ts';
export type { GroupHandle } from './snapshot-group.ts';
export type { SnapshotExport } from './snapshot-transfer.ts';
