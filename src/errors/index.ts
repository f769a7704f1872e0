export { ErrorCode, HangarError, isPermanent } from './hangar-error.ts';
export { CommandError, IllegalStateError, NotFoundError, TimeoutError, ValidationError } from './kinds.ts';
