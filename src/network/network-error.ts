import { ErrorCode, HangarError } from '../errors/index.ts';

/**
 * A network step failed or the host reported something we could not read. Keeps the
 * cause's code (E_COMMAND for a failed command) so the worker's retry mapping still applies.
 */
export class NetworkError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(cause instanceof HangarError ? cause.code : ErrorCode.Command, message, { details, cause });
  }
}
