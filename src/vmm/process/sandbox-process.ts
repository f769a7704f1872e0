import type { Logger } from '../../logging/logger.ts';
import type { RuntimePaths } from '../runtime-paths.ts';
import type { VmCrash } from '../vm-driver.ts';
import { findVmmProcessesIn } from './find-vmm-processes.ts';
import { writePidfile } from './pidfile.ts';
import { DEFAULT_TERMINATE_GRACE, type TerminateOptions, terminate } from './terminate.ts';
import { type ReattachOptions, VmmProcess } from './vmm-process.ts';
import { waitReady } from './wait-ready.ts';

/** How a SandboxProcess finds its VMM again and checks one found without a pidfile. */
export interface SandboxProcessOptions {
  /** The log whose tail a crash report shows besides the process output. */
  extraLogPath: string;
  log: Logger;
  /** Whether the VMM's API answers (vmm.ping, QMP query-status); throwing counts as "not yet". */
  probe: () => Promise<boolean>;
  /** How long a VMM found without its pidfile gets to answer before it is replaced; default 10 s. */
  readyTimeoutMs?: number;
  /** Signal grace periods for ending VMMs that are not adopted; default 2 s each. */
  terminate?: TerminateOptions;
}

/**
 * The one VMM process of a sandbox, whatever the backend: found again from its pidfile (or,
 * without one, through /proc), adopted when launched, watched for exits nobody asked for
 * (reported to the crash listeners), and stopped with escalation. Cloud Hypervisor and QEMU
 * differ only in how they launch and in how they ask the VMM to exit first.
 */
export class SandboxProcess {
  readonly #sandboxId: string;
  readonly #paths: RuntimePaths;
  readonly #options: SandboxProcessOptions;
  readonly #log: Logger;
  readonly #listeners = new Set<(crash: VmCrash) => void>();
  #process: VmmProcess | undefined;
  #unwatch: (() => void) | undefined;

  constructor(sandboxId: string, paths: RuntimePaths, options: SandboxProcessOptions) {
    this.#sandboxId = sandboxId;
    this.#paths = paths;
    this.#options = options;
    this.#log = options.log;
  }

  /** The live process, if any. */
  get current(): VmmProcess | undefined {
    return this.#process?.isAlive() ? this.#process : undefined;
  }

  /** The adopted process even if it has died (waitReady reports its exit with the log tail). */
  get adopted(): VmmProcess | undefined {
    return this.#process;
  }

  get pid(): number | undefined {
    return this.current?.pid;
  }

  /**
   * Finds a running VMM of this sandbox (after a worker restart) and adopts it: the one its
   * pidfile names, else one found through /proc by its runtime directory.
   */
  async reattach(): Promise<boolean> {
    if (this.current !== undefined) return true;
    const found = await VmmProcess.reattach(this.#paths.pidfile, this.#reattachOptions());
    if (found === undefined) return this.#adoptUnrecorded();
    this.adopt(found);
    this.#log.info({ pid: found.pid }, 're-attached to running VMM');
    return true;
  }

  /** Takes charge of a process (just launched or found again) and watches its exit. */
  adopt(proc: VmmProcess): void {
    this.#unwatch?.();
    this.#process = proc;
    this.#unwatch = proc.onUnexpectedExit((exit) => {
      const crash: VmCrash = { sandboxId: this.#sandboxId, ...exit };
      this.#log.error({ crash }, 'VMM exited unexpectedly');
      for (const listener of this.#listeners) listener(crash);
    });
  }

  onCrash(listener: (crash: VmCrash) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Stops the process: `askToExit` (the VMM's own API, each call bounded by the caller),
   * then SIGTERM and SIGKILL to its group if it has not exited within `exitMs`.
   */
  async stop(
    askToExit: () => Promise<void>,
    timeouts: { exitMs: number; termMs: number; killMs: number },
  ): Promise<void> {
    const proc = this.#process;
    if (proc === undefined) return;
    proc.expectExit();
    await askToExit();
    if (!(await proc.waitForExit(timeouts.exitMs))) {
      const how = await terminate(proc, { termGraceMs: timeouts.termMs, killGraceMs: timeouts.killMs });
      this.#log.warn({ how }, 'VMM did not exit through its API; signalled');
    }
    this.#unwatch?.();
    this.#process = undefined;
  }

  #reattachOptions(): ReattachOptions {
    return { outputPath: this.#paths.output, extraLogPath: this.#options.extraLogPath, logger: this.#log };
  }

  /**
   * No usable pidfile, yet a VMM may run: a worker killed after the spawn and before the
   * pidfile was durable leaves one. Every VMM naming this runtime directory is found through
   * /proc; the newest on our API socket (a relaunch unlinks and rebinds it, so the newest is
   * the one answering) is adopted if it answers, and recorded in a fresh pidfile. All others,
   * and that one if it never answers, are ended: a retried launch must never leave two.
   */
  async #adoptUnrecorded(): Promise<boolean> {
    const { dir, apiSocket, pidfile } = this.#paths;
    const found = await findVmmProcessesIn(dir);
    if (found.length === 0) return false;
    const running = found.flatMap(({ pid, startTime, argv }) => {
      if (startTime === undefined) return [];
      const onSocket = argv.some((arg) => arg.includes(apiSocket));
      const identity = onSocket ? apiSocket : `${dir}/`;
      const proc = VmmProcess.attach(
        { pid, procStartTime: startTime, argv, identity },
        this.#reattachOptions(),
      );
      return proc === undefined ? [] : [{ proc, onSocket }];
    });
    const keep = running
      .filter((vmm) => vmm.onSocket)
      .sort((a, b) => b.proc.procStartTime - a.proc.procStartTime)[0]?.proc;
    const grace = this.#options.terminate ?? DEFAULT_TERMINATE_GRACE;
    const extra = running.map((vmm) => vmm.proc).filter((proc) => proc !== keep);
    await Promise.all(
      extra.map(async (proc) => {
        const how = await terminate(proc, grace);
        this.#log.warn({ pid: proc.pid, how }, 'ended a second VMM of this sandbox found without a pidfile');
      }),
    );
    if (keep === undefined) return false;
    try {
      await waitReady(keep, this.#options.probe, { timeoutMs: this.#options.readyTimeoutMs ?? 10_000 });
    } catch (error) {
      const how = await terminate(keep, grace);
      this.#log.warn(
        { pid: keep.pid, how, err: error },
        'VMM found without a pidfile never answered; ended it',
      );
      return false;
    }
    await writePidfile(pidfile, {
      pid: keep.pid,
      startedAt: keep.startedAt.toISOString(),
      argv: keep.argv,
      identity: apiSocket,
      procStartTime: keep.procStartTime,
      outputPath: this.#paths.output,
      extraLogPath: this.#options.extraLogPath,
    });
    this.adopt(keep);
    this.#log.warn({ pid: keep.pid }, 're-attached to a running VMM found without its pidfile');
    return true;
  }
}
