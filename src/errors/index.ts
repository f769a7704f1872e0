export { ErrorCode, HangarError, isPermanent } from './hangar-error.ts';
export {
  AbortedError,
  CapacityError,
  CommandError,
  ConflictError,
  CorruptStateError,
  IllegalStateError,
  IncompatibleError,
  NotFoundError,
  StalledError,
  SupersededError,
  TimeoutError,
  TransferError,
  UnsignedJobError,
  ValidationError,
} from './kinds.ts';
