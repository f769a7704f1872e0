import type { Logger } from '../../logging/logger.ts';
import type { RuntimePaths } from '../runtime-paths.ts';
import type { VmCrash } from '../vm-driver.ts';
import { terminate } from './terminate.ts';
import { VmmProcess } from './vmm-process.ts';

/**
 * The one VMM process of a sandbox, whatever the backend: found again from its pidfile,
 * adopted when launched, watched for exits nobody asked for (reported to the crash
 * listeners), and stopped with escalation. Cloud Hypervisor and QEMU differ only in how they
 * launch and in how they ask the VMM to exit first.
 */
export class SandboxProcess {
  readonly #sandboxId: string;
  readonly #paths: RuntimePaths;
  /** The log whose tail a crash report shows besides the process output. */
  readonly #extraLogPath: string;
  readonly #log: Logger;
  readonly #listeners = new Set<(crash: VmCrash) => void>();
  #process: VmmProcess | undefined;
  #unwatch: (() => void) | undefined;

  constructor(sandboxId: string, paths: RuntimePaths, extraLogPath: string, log: Logger) {
    this.#sandboxId = sandboxId;
    this.#paths = paths;
    this.#extraLogPath = extraLogPath;
    this.#log = log;
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

  /** Finds a running VMM of this sandbox (after a worker restart) and adopts it. */
  async reattach(): Promise<boolean> {
    if (this.current !== undefined) return true;
    const found = await VmmProcess.reattach(this.#paths.pidfile, {
      outputPath: this.#paths.output,
      extraLogPath: this.#extraLogPath,
      logger: this.#log,
    });
    if (found === undefined) return false;
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
}
