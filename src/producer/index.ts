// The library backend apps import: `import { HangarClient } from 'hangar/producer'`.
export { ErrorCode, HangarError } from '../errors/index.ts';
export type { HangarEvent, PositionedEvent, SandboxState } from '../events/event-schemas.ts';
export type { SandboxRecord, SnapshotRecord } from '../state/record-schemas.ts';
export {
  type CallOptions,
  type CreateInput,
  HangarClient,
  type HangarClientOptions,
  type SandboxSelector,
} from './hangar-client.ts';
export { JobHandle, type JobRef } from './job-handle.ts';
export { HostLostError, JobFailedError, NoCapacityError } from './producer-errors.ts';
export { type BatchHandle, type BatchOptions, snapshotBatch } from './snapshot-batch.ts';
