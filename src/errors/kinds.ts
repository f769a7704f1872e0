import { type ZodError, z } from 'zod';
import { ErrorCode, HangarError } from './hangar-error.ts';

/** Bad input: names the offending field(s); never retried. */
export class ValidationError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(ErrorCode.Validation, message, { details, cause });
  }

  /** Turns a zod failure into one message naming each bad field by its path. */
  static fromZod(what: string, error: ZodError): ValidationError {
    const issues = error.issues.map((issue) => ({
      field: issue.path.length > 0 ? issue.path.join('.') : '(root)',
      message: issue.message,
    }));
    const summary = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
    return new ValidationError(
      `invalid ${what}: ${summary}`,
      { issues, pretty: z.prettifyError(error) },
      error,
    );
  }
}

/** The operation is not legal in the current state (resume a destroyed sandbox); never retried. */
export class IllegalStateError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.IllegalState, message, { details });
  }
}

/** The thing named does not exist. */
export class NotFoundError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.NotFound, message, { details });
  }
}

/** A deadline passed; what was waited for is in the message. */
export class TimeoutError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(ErrorCode.Timeout, message, { details, cause });
  }
}

/** An external command failed; carries argv, exit code and stderr. */
export class CommandError extends HangarError {
  readonly stderr: string;
  readonly exitCode: number | undefined;

  constructor(argv: readonly string[], exitCode: number | undefined, stderr: string, cause?: unknown) {
    super(
      ErrorCode.Command,
      `command failed (${exitCode ?? 'signal'}): ${argv.join(' ')}: ${stderr.trim()}`,
      {
        details: { argv, exitCode, stderr },
        cause,
      },
    );
    this.stderr = stderr;
    this.exitCode = exitCode;
  }
}

/** The host has no room for the request; says what was asked and what is free. Never retried. */
export class CapacityError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Capacity, message, { details });
  }
}

/** An id is already taken by something else (a snapshot id of another sandbox, a reused sandbox id). */
export class ConflictError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Conflict, message, { details });
  }
}

/** A stored record does not parse; names the key or file. Never retried: retrying reads the same bytes. */
export class CorruptStateError extends HangarError {
  readonly key: string;

  constructor(key: string, cause?: unknown) {
    super(ErrorCode.CorruptState, `corrupt record at ${key}`, { details: { key }, cause });
    this.key = key;
  }
}

/** A job whose place in its sandbox's order has passed without it (a later job already ran). */
export class SupersededError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Superseded, message, { details });
  }
}

/** BullMQ gave up on a job that stalled too often (its worker kept dying); its work was rolled back. */
export class StalledError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Stalled, message, { details });
  }
}

/** The caller's AbortSignal fired while it waited (the job itself goes on). */
export class AbortedError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(ErrorCode.Aborted, message, { details, cause });
  }
}

/** A snapshot cannot be restored on this host: its CPU lacks flags the snapshot needs, or its VMM cannot read it. */
export class IncompatibleError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Incompatible, message, { details });
  }
}

/**
 * A job its worker cannot trust: unsigned, signed with another key, or its data, name, id
 * or queue changed since it was signed. Never retried: the same bytes fail the same check.
 */
export class UnsignedJobError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.Unsigned, message, { details });
  }
}

/**
 * Moving a snapshot between hosts (or in or out of an archive) failed: the peer was
 * unreachable, refused, or sent a truncated or corrupt archive. Retried: the next attempt
 * fetches it again.
 */
export class TransferError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(ErrorCode.Transfer, message, { details, cause });
  }
}
