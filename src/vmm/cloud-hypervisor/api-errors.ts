import { ErrorCode, HangarError } from '../../errors/index.ts';

/**
 * CH answered a call with an error status, or with a body we could not make sense of.
 * The status is reported as is: real CH answers nearly every wrong-state call with 500 (never
 * the spec's 405), so callers decide what a failure means by probing vm.info, not by the code.
 */
export class ChApiError extends HangarError {
  readonly status: number;
  readonly endpoint: string;
  /** CH's error chain, outermost first (its error body is a JSON array of strings). */
  readonly errorChain: string[];

  constructor(endpoint: string, status: number, errorChain: string[], message?: string) {
    const chain = errorChain.length > 0 ? errorChain.join(': ') : '(no error body)';
    super(ErrorCode.VmmApi, message ?? `CH ${endpoint} answered ${status}: ${chain}`, {
      details: { endpoint, status, errorChain },
    });
    this.status = status;
    this.endpoint = endpoint;
    this.errorChain = errorChain;
  }
}

/** The API socket could not be reached, closed mid-call, or the call timed out. */
export class VmmUnreachableError extends HangarError {
  readonly endpoint: string;
  /** Whether the call ran out of time (the VMM may still be alive but hung). */
  readonly timedOut: boolean;

  constructor(endpoint: string, cause: unknown, options: { timedOut?: boolean; timeoutMs?: number } = {}) {
    const why = options.timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : `failed: ${cause instanceof Error ? cause.message : String(cause)}`;
    super(ErrorCode.VmmUnreachable, `CH API call ${endpoint} ${why}`, {
      cause,
      details: { endpoint, timedOut: options.timedOut ?? false, timeoutMs: options.timeoutMs },
    });
    this.endpoint = endpoint;
    this.timedOut = options.timedOut ?? false;
  }
}

/**
 * Whether `error` is vm.info's 404: the VMM holds no VM config (never created, or deleted).
 * Use it on vm.info only: CH answers 404 elsewhere for other reasons (vm.boot with no config,
 * vm.reboot with no VM, vm.remove-device of an unknown id), and calls that need a running VM
 * answer 500 "VM is not running" when there is none (see src/vmm/simulator/ch-answers).
 */
export function isVmNotCreated(error: unknown): boolean {
  return error instanceof ChApiError && error.status === 404;
}

/** Reads CH's error body: a JSON array of strings; a plain-text or empty body is tolerated. */
export function parseErrorChain(body: string): string[] {
  const text = body.trim();
  if (text === '') return [];
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed))
      return parsed.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
    if (typeof parsed === 'string') return [parsed];
  } catch {
    // not JSON: CH versions and proxies answer some errors in plain text
  }
  return [text];
}
