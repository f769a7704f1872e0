import { ErrorCode, HangarError } from '../../errors/index.ts';

/** The VMM process ended when it should not have (before it was ready, say); carries its log tail. */
export class VmmExitedError extends HangarError {
  readonly logTail: string;

  constructor(
    message: string,
    details: { pid: number; code: number | null; signal: string | null; logTail: string },
  ) {
    super(ErrorCode.VmmExited, message, { details });
    this.logTail = details.logTail;
  }
}

/** How an exit reads in a message: "code 1", "signal SIGKILL" or "status unknown". */
export function describeExit(exit: { code: number | null; signal: string | null }): string {
  if (exit.signal !== null) return `signal ${exit.signal}`;
  if (exit.code !== null) return `code ${exit.code}`;
  return 'status unknown';
}

/** Appends a log tail to a message, or says there was no output. */
export function withLogTail(message: string, logTail: string): string {
  return logTail.length > 0 ? `${message}; last output:\n${logTail}` : `${message}; no output was logged`;
}
