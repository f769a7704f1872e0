import { TimeoutError } from '../../errors/index.ts';
import { describeExit, VmmExitedError, withLogTail } from './errors.ts';
import type { ExitStatus } from './exit-watch.ts';
import type { VmmProcess } from './vmm-process.ts';

/** How long to wait for a VMM to answer, and how often to ask. */
export interface WaitReadyOptions {
  timeoutMs: number;
  /** Pause between probes; default 20 ms. */
  intervalMs?: number;
}

type Step<T> =
  | { kind: 'value'; value: T }
  | { kind: 'error'; error: unknown }
  | { kind: 'exit' }
  | { kind: 'timeout' };

/**
 * Calls `probe` (vmm.ping, say) until it returns true. Fails fast with VmmExitedError when
 * the process dies meanwhile, and with TimeoutError after `timeoutMs`; both carry the log
 * tail. A probe that throws counts as "not yet"; its last error becomes the timeout's cause.
 */
export async function waitReady(
  proc: VmmProcess,
  probe: () => Promise<boolean>,
  options: WaitReadyOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let exited: ExitStatus | undefined;
  let wakeOnExit: (() => void) | undefined;
  const unsubscribe = proc.onExit((status) => {
    exited = status;
    wakeOnExit?.();
  });
  // Settles with `promise` (when given), or early when the process exits or `ms` pass.
  const race = <T>(promise: Promise<T> | undefined, ms: number): Promise<Step<T>> => {
    let timer: NodeJS.Timeout | undefined;
    return new Promise<Step<T>>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), Math.max(0, ms));
      wakeOnExit = () => resolve({ kind: 'exit' });
      if (exited !== undefined) resolve({ kind: 'exit' });
      promise?.then(
        (value) => resolve({ kind: 'value', value }),
        (error: unknown) => resolve({ kind: 'error', error }),
      );
    }).finally(() => {
      clearTimeout(timer);
      wakeOnExit = undefined;
    });
  };
  let lastError: unknown;
  try {
    for (;;) {
      if (exited !== undefined || !proc.isAlive()) break;
      const step = await race(Promise.resolve().then(probe), deadline - Date.now());
      if (step.kind === 'value' && step.value) return;
      if (step.kind === 'error') lastError = step.error;
      if (step.kind === 'exit') break;
      if (step.kind === 'timeout' || Date.now() >= deadline) return await timedOut(proc, options, lastError);
      const pause = await race(undefined, Math.min(options.intervalMs ?? 20, deadline - Date.now()));
      if (pause.kind === 'exit') break;
    }
    // /proc may show the death a moment before the watch does: wait for its exact status.
    if (exited === undefined) await proc.waitForExit(1_000);
    const status = exited ?? proc.exitStatus ?? { code: null, signal: null };
    const logTail = await proc.logTail();
    throw new VmmExitedError(
      withLogTail(`VMM pid ${proc.pid} exited (${describeExit(status)}) before it was ready`, logTail),
      { pid: proc.pid, code: status.code, signal: status.signal, logTail },
    );
  } finally {
    unsubscribe();
  }
}

async function timedOut(proc: VmmProcess, options: WaitReadyOptions, lastError: unknown): Promise<never> {
  const logTail = await proc.logTail();
  throw new TimeoutError(
    withLogTail(`VMM pid ${proc.pid} not ready after ${options.timeoutMs} ms`, logTail),
    { pid: proc.pid, timeoutMs: options.timeoutMs, logTail },
    lastError,
  );
}
