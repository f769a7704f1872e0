import { ErrorCode, HangarError } from '../../errors/index.ts';
import { VmmUnreachableError } from '../cloud-hypervisor/api-errors.ts';

/** QEMU refused a QMP command: carries QMP's error class (GenericError, CommandNotFound, ...) and desc. */
export class QmpError extends HangarError {
  readonly command: string;
  readonly errorClass: string;
  readonly desc: string;

  constructor(command: string, errorClass: string, desc: string) {
    super(ErrorCode.VmmApi, `QMP ${command} failed (${errorClass}): ${desc}`, {
      details: { command, errorClass, desc },
    });
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

/**
 * The QMP socket could not be reached, closed mid-call, or sent no greeting in time (QEMU
 * serves one QMP client at a time: a second one waits unanswered). A VmmUnreachableError
 * (E_VMM_UNREACHABLE) like CH's, so callers need not know which VMM they talk to.
 */
export class QmpUnreachableError extends VmmUnreachableError {
  constructor(what: string, cause: unknown, options: { timedOut?: boolean; timeoutMs?: number } = {}) {
    super(`qmp ${what}`, cause, options);
    // The base class words its message for CH's HTTP API; say what really failed.
    this.message = options.timedOut
      ? `QMP ${what} timed out after ${options.timeoutMs} ms`
      : `QMP ${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`;
  }
}
