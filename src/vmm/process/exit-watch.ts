import type { ChildProcess } from 'node:child_process';
import { isAlive, readStartTime } from './proc.ts';

/** How a process ended; code and signal are null when we could only see that it is gone. */
export interface ExitStatus {
  code: number | null;
  signal: string | null;
  at: Date;
}

/** Tells, once, that a process has ended. */
export interface ExitWatch {
  /** Set once the end was seen. */
  readonly status: ExitStatus | undefined;
  /** Calls `listener` once when the process ends (soon, if it already has); returns the unsubscribe. */
  onExit(listener: (status: ExitStatus) => void): () => void;
}

// The listener bookkeeping both watches share; subclasses call settle() once.
abstract class BaseExitWatch implements ExitWatch {
  status: ExitStatus | undefined;
  protected readonly listeners = new Set<(status: ExitStatus) => void>();

  onExit(listener: (status: ExitStatus) => void): () => void {
    const status = this.status;
    if (status !== undefined) {
      let active = true;
      queueMicrotask(() => {
        if (active) listener(status);
      });
      return () => {
        active = false;
      };
    }
    this.listeners.add(listener);
    this.listenersChanged();
    return () => {
      this.listeners.delete(listener);
      this.listenersChanged();
    };
  }

  protected settle(status: ExitStatus): void {
    if (this.status !== undefined) return;
    this.status = status;
    const listeners = [...this.listeners];
    this.listeners.clear();
    this.listenersChanged();
    for (const listener of listeners) listener(status);
  }

  protected listenersChanged(): void {}
}

// Our own child: Node reaps it and hands us its exit code and signal.
class ChildExitWatch extends BaseExitWatch {
  constructor(child: ChildProcess) {
    super();
    if (child.exitCode !== null || child.signalCode !== null) {
      this.status = { code: child.exitCode, signal: child.signalCode, at: new Date() };
      return;
    }
    child.once('exit', (code, signal) => this.settle({ code, signal, at: new Date() }));
  }
}

/** Watches a child we spawned through its 'exit' event (exact code and signal). */
export function watchChildExit(child: ChildProcess): ExitWatch {
  return new ChildExitWatch(child);
}

// Not our child (found again after a restart): Node has no pidfd, so poll procfs. The
// timer runs only while someone listens, and is unref'd so it never holds the worker up.
class PollingExitWatch extends BaseExitWatch {
  readonly #pid: number;
  readonly #startTime: number;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(pid: number, startTime: number, intervalMs: number) {
    super();
    this.#pid = pid;
    this.#startTime = startTime;
    this.#intervalMs = intervalMs;
    this.check();
  }

  /** Looks once; settles (code and signal unknown) when the process is gone or the pid reused. */
  check(): void {
    if (this.status !== undefined) return;
    if (isAlive(this.#pid) && readStartTime(this.#pid) === this.#startTime) return;
    this.settle({ code: null, signal: null, at: new Date() });
  }

  protected override listenersChanged(): void {
    if (this.listeners.size > 0 && this.#timer === undefined && this.status === undefined) {
      this.#timer = setInterval(() => this.check(), this.#intervalMs);
      this.#timer.unref();
    } else if ((this.listeners.size === 0 || this.status !== undefined) && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** Default poll period for re-attached processes: well inside the 1 s crash-report budget. */
export const DEFAULT_POLL_INTERVAL_MS = 150;

/** Watches a process that is not our child by polling its liveness and start time. */
export function watchPidExit(
  pid: number,
  procStartTime: number,
  intervalMs = DEFAULT_POLL_INTERVAL_MS,
): ExitWatch {
  return new PollingExitWatch(pid, procStartTime, intervalMs);
}
