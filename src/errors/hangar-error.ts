/** Stable error codes: callers and the worker branch on these, never on messages. */
export const ErrorCode = {
  Validation: 'E_VALIDATION',
  IllegalState: 'E_ILLEGAL_STATE',
  NotFound: 'E_NOT_FOUND',
  VmmUnreachable: 'E_VMM_UNREACHABLE',
  VmmApi: 'E_VMM_API',
  VmmVersion: 'E_VMM_VERSION',
  VmmExited: 'E_VMM_EXITED',
  Timeout: 'E_TIMEOUT',
  Command: 'E_COMMAND',
  HostLost: 'E_HOST_LOST',
  Capacity: 'E_CAPACITY',
  Conflict: 'E_CONFLICT',
  CorruptState: 'E_CORRUPT_STATE',
  Superseded: 'E_SUPERSEDED',
  Stalled: 'E_STALLED',
  Aborted: 'E_ABORTED',
  Incompatible: 'E_INCOMPATIBLE',
  Unsigned: 'E_UNSIGNED',
  Transfer: 'E_TRANSFER',
  Internal: 'E_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base of every error hangar throws on purpose; `details` is structured, loggable context. */
export class HangarError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }

  /** A plain object that survives JSON (job results, events). */
  toJSON(): { code: ErrorCode; name: string; message: string; details: Record<string, unknown> } {
    return { code: this.code, name: this.name, message: this.message, details: this.details };
  }
}

const PERMANENT: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.Validation,
  ErrorCode.IllegalState,
  ErrorCode.NotFound,
  ErrorCode.Capacity,
  ErrorCode.Conflict,
  ErrorCode.CorruptState,
  ErrorCode.Superseded,
  ErrorCode.Stalled,
  ErrorCode.Incompatible,
  ErrorCode.Unsigned,
]);

/** Whether a code means "retrying cannot help": the input, the state or the host's room is wrong. */
export function isPermanent(code: ErrorCode): boolean {
  return PERMANENT.has(code);
}
