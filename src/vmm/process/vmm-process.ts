import { type Logger, silentLogger } from '../../logging/logger.ts';
import { DEFAULT_POLL_INTERVAL_MS, type ExitStatus, type ExitWatch, watchPidExit } from './exit-watch.ts';
import { readLogTail } from './log-tail.ts';
import { readPidfile, removePidfile } from './pidfile.ts';
import { isAlive, matchesIdentity, readStartTime, startDateOf } from './proc.ts';

/** An exit of a VMM that nobody asked for, as crash listeners receive it. */
export interface VmmExit {
  pid: number;
  code: number | null;
  signal: string | null;
  /** The last ~30 lines of the process output and of the VMM's own log. */
  logTail: string;
  at: Date;
}

/** Everything a VmmProcess is made from; built by launchDetached() or VmmProcess.reattach(). */
export interface VmmProcessInit {
  pid: number;
  argv: string[];
  startedAt: Date;
  procStartTime: number;
  identity: string;
  attached: 'child' | 'reattached';
  watch: ExitWatch;
  outputPath?: string;
  extraLogPath?: string;
  logger?: Logger;
}

/** A running process to take charge of: what a pidfile records, or what /proc showed. */
export interface RunningVmm {
  pid: number;
  procStartTime: number;
  argv: string[];
  /** A string its command line must hold (the API socket path). */
  identity: string;
  /** When it started; derived from its start time when absent. */
  startedAt?: Date;
}

/** Options of VmmProcess.reattach() and attach(); paths given here win over those in the pidfile. */
export interface ReattachOptions {
  outputPath?: string;
  extraLogPath?: string;
  logger?: Logger;
  /** How often to look whether the process still lives; default 150 ms. */
  pollIntervalMs?: number;
}

/**
 * One VMM process, launched by us or found again from its pidfile. Signals go to its
 * process group; an exit nobody asked for (see expectExit) reaches onUnexpectedExit.
 */
export class VmmProcess {
  readonly pid: number;
  readonly argv: string[];
  readonly startedAt: Date;
  readonly procStartTime: number;
  readonly identity: string;
  /** 'child' when this process spawned it (exact exit status), 'reattached' when found again (polled). */
  readonly attached: 'child' | 'reattached';
  readonly outputPath: string | undefined;
  readonly extraLogPath: string | undefined;
  readonly #watch: ExitWatch;
  readonly #log: Logger;
  #expected = false;

  constructor(init: VmmProcessInit) {
    this.pid = init.pid;
    this.argv = init.argv;
    this.startedAt = init.startedAt;
    this.procStartTime = init.procStartTime;
    this.identity = init.identity;
    this.attached = init.attached;
    this.outputPath = init.outputPath;
    this.extraLogPath = init.extraLogPath;
    this.#watch = init.watch;
    this.#log = (init.logger ?? silentLogger).child({ vmmPid: init.pid });
  }

  /**
   * Finds the VMM a pidfile names, if that very process still runs (alive, same start
   * time, identity in its command line). Otherwise removes the stale pidfile.
   */
  static async reattach(pidfilePath: string, options: ReattachOptions = {}): Promise<VmmProcess | undefined> {
    const logger = options.logger ?? silentLogger;
    const record = await readPidfile(pidfilePath, logger);
    const found =
      record === undefined
        ? undefined
        : VmmProcess.attach(
            { ...record, startedAt: new Date(record.startedAt) },
            {
              ...options,
              outputPath: options.outputPath ?? record.outputPath,
              extraLogPath: options.extraLogPath ?? record.extraLogPath,
            },
          );
    if (found === undefined) {
      if (record !== undefined) {
        logger.info(
          { pid: record.pid, pidfilePath },
          'stale VMM pidfile (process gone or pid reused); removing it',
        );
      }
      await removePidfile(pidfilePath);
    }
    return found;
  }

  /**
   * Takes charge of a running process that is not our child (found through a pidfile or
   * /proc), if it still is that process: alive, same start time, identity in its command line.
   */
  static attach(running: RunningVmm, options: ReattachOptions = {}): VmmProcess | undefined {
    if (!matchesIdentity(running.pid, running)) return undefined;
    return new VmmProcess({
      pid: running.pid,
      argv: running.argv,
      startedAt: running.startedAt ?? startDateOf(running.procStartTime) ?? new Date(),
      procStartTime: running.procStartTime,
      identity: running.identity,
      attached: 'reattached',
      watch: watchPidExit(
        running.pid,
        running.procStartTime,
        options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      ),
      outputPath: options.outputPath,
      extraLogPath: options.extraLogPath,
      logger: options.logger,
    });
  }

  /** Whether the process still runs (and its pid was not reused). */
  isAlive(): boolean {
    if (this.#watch.status !== undefined) return false;
    return isAlive(this.pid) && readStartTime(this.pid) === this.procStartTime;
  }

  /** How it ended, once that was seen. */
  get exitStatus(): ExitStatus | undefined {
    return this.#watch.status;
  }

  /** Whether expectExit() was called. */
  get exitExpected(): boolean {
    return this.#expected;
  }

  /** Marks that we asked the VMM to stop, so its exit is not reported as a crash. */
  expectExit(): void {
    this.#expected = true;
  }

  /** Calls `listener` once when the process ends, for whatever reason; returns the unsubscribe. */
  onExit(listener: (status: ExitStatus) => void): () => void {
    return this.#watch.onExit(listener);
  }

  /** Calls `listener` when the process ends without expectExit() (a crash); returns the unsubscribe. */
  onUnexpectedExit(listener: (exit: VmmExit) => void): () => void {
    let active = true;
    const unsubscribe = this.#watch.onExit((status) => {
      if (this.#expected) return;
      void this.logTail().then((logTail) => {
        if (!active || this.#expected) return;
        try {
          listener({ pid: this.pid, code: status.code, signal: status.signal, logTail, at: status.at });
        } catch (error) {
          this.#log.error({ err: error }, 'VMM crash listener threw');
        }
      });
    });
    return () => {
      active = false;
      unsubscribe();
    };
  }

  /** Resolves true once the process has ended, false if it still runs after `timeoutMs`. */
  waitForExit(timeoutMs: number): Promise<boolean> {
    // Wait for the watch rather than trust a /proc look, so exitStatus is set on return.
    if (this.#watch.status !== undefined) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        unsubscribe();
        resolve(!this.isAlive());
      }, timeoutMs);
      const unsubscribe = this.#watch.onExit(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Sends `sig` to the process group (the VMM leads it), or to the pid alone when it is no
   * group leader. Returns false when the process is already gone; never signals a reused pid.
   */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.isAlive()) return false;
    try {
      process.kill(-this.pid, sig);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
    try {
      process.kill(this.pid, sig);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw error;
    }
  }

  /** The last `lines` lines of the process output and of the VMM's own log. */
  logTail(lines = 30): Promise<string> {
    return readLogTail([this.outputPath, this.extraLogPath], lines);
  }
}
