import { UnrecoverableError } from 'bullmq';
import { ErrorCode, HangarError, isPermanent } from '../errors/index.ts';
import type { ErrorInfo } from '../events/event-schemas.ts';

/** The one place that decides retry or no retry: permanent codes become BullMQ's UnrecoverableError. */
export function toJobError(error: unknown): Error {
  if (error instanceof HangarError && isPermanent(error.code)) {
    const unrecoverable = new UnrecoverableError(`${error.code}: ${error.message}`);
    unrecoverable.cause = error;
    return unrecoverable;
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Whether an error will not be retried whatever attempts remain. */
export function isFinalError(error: unknown): boolean {
  return error instanceof HangarError && isPermanent(error.code);
}

/** The code and message that travel in events and outcomes. */
export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof HangarError) return { code: error.code, message: error.message };
  return { code: ErrorCode.Internal, message: error instanceof Error ? error.message : String(error) };
}
