import { TimeoutError } from '../../errors/index.ts';
import type { VmmProcess } from './vmm-process.ts';

/** How long each signal may take to end the VMM. */
export interface TerminateOptions {
  termGraceMs: number;
  killGraceMs: number;
}

/** The grace periods used where no caller chose any: 2 s for SIGTERM, 2 s for SIGKILL. */
export const DEFAULT_TERMINATE_GRACE: TerminateOptions = { termGraceMs: 2_000, killGraceMs: 2_000 };

/** How the VMM ended: it was gone already, SIGTERM sufficed, or it took SIGKILL. */
export type TerminateOutcome = 'exited-already' | 'sigterm' | 'sigkill';

/**
 * Ends a VMM by signal: SIGTERM to its process group, then SIGKILL, each with a grace period.
 * Marks the exit as expected first (we asked for it: no crash report). Throws TimeoutError
 * when even SIGKILL does not end it (a process stuck in the kernel, state D).
 */
export async function terminate(proc: VmmProcess, options: TerminateOptions): Promise<TerminateOutcome> {
  proc.expectExit();
  if (!proc.isAlive()) return 'exited-already';
  if (!proc.signal('SIGTERM')) return 'exited-already';
  if (await proc.waitForExit(options.termGraceMs)) return 'sigterm';
  if (proc.signal('SIGKILL') && !(await proc.waitForExit(options.killGraceMs))) {
    throw new TimeoutError(`VMM pid ${proc.pid} still runs ${options.killGraceMs} ms after SIGKILL`, {
      pid: proc.pid,
      ...options,
    });
  }
  return 'sigkill';
}
