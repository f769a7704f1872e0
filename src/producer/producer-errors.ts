import { ErrorCode, HangarError } from '../errors/index.ts';
import type { ErrorInfo } from '../events/event-schemas.ts';

/** The sandbox's host stopped beating: its jobs cannot run until it returns. */
export class HostLostError extends HangarError {
  constructor(hostId: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.HostLost, `host ${hostId} is lost (no heartbeat)`, { details: { hostId, ...details } });
  }
}

/** No live host has room for the request. */
export class NoCapacityError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Capacity, message, { details });
  }
}

/** A job that failed for good, carrying the worker's error code and message. */
export class JobFailedError extends HangarError {
  readonly jobId: string;

  constructor(jobId: string, error: ErrorInfo) {
    const code = (Object.values(ErrorCode) as string[]).includes(error.code)
      ? (error.code as ErrorCode)
      : ErrorCode.Internal;
    super(code, error.message, { details: { jobId } });
    this.jobId = jobId;
  }
}
