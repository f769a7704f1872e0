import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { sleep } from './sleep.ts';

const HANGAR_BIN = fileURLToPath(new URL('../../bin/hangar.ts', import.meta.url));
// What `hangar worker` prints once its BullMQ worker is consuming the host queue.
const CONSUMING = /worker \S+ consuming host-/;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const START_ATTEMPTS = 5;
// Worker configuration the environment could set: stripped, so the worker runs on the flags
// given here and its own defaults, whatever the shell exported.
const CONFIG_ENV = /^(HANGAR_(?!CH_REQUEST_LOG$).*|REDIS_URL)$/;

/** The `hangar worker` command line of one host, plus the simulator latency its VMMs inherit. */
export interface WorkerSpec {
  hostId: string;
  stateDir: string;
  keyPrefix: string;
  redisUrl: string;
  network: { prefix: string; vethRange: string; hostRange: string };
  simLatency: string;
  /** Appends every incarnation's stdout and stderr to `<logDir>/<hostId>.log`. */
  logDir?: string | undefined;
  /**
   * NODE_COMPILE_CACHE for the worker and the simulator processes it launches: each restart
   * and each VMM start skips compiling the same modules again (behaviour is unchanged).
   */
  compileCacheDir?: string | undefined;
}

/** A worker exit nobody asked for, with the tail of what it printed. */
export interface UnexpectedExit {
  at: number;
  pid: number | undefined;
  exitCode: number | undefined;
  signal: string | undefined;
  outputTail: string[];
}

interface Incarnation {
  child: ResultPromise;
  pid: number;
  expectExit: boolean;
  tail: string[];
}

/**
 * Runs one host's `hangar worker` as a child process: starts it and waits until it says it is
 * consuming, SIGKILLs it by pid, and stops it with SIGTERM at the end. An exit nobody asked
 * for is recorded and the worker is started again at once, so the campaign rides on.
 */
export class WorkerSupervisor {
  readonly spec: WorkerSpec;
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** Starts that ended before the worker was consuming (each is retried). */
  readonly failedStarts: { at: number; outputTail: string[] }[] = [];
  /** Every pid a worker of this host ever had. */
  readonly pids = new Set<number>();
  #current: Incarnation | undefined;
  #starting: Promise<number> | undefined;
  #stopped = false;
  #log: WriteStream | undefined;

  constructor(spec: WorkerSpec) {
    this.spec = spec;
  }

  /** The live worker's pid, if one runs. */
  get pid(): number | undefined {
    return this.#current?.pid;
  }

  /** Starts a worker and resolves with the time it said it is consuming (retries failed starts). */
  start(): Promise<number> {
    this.#starting ??= this.#startWithRetries().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  /** SIGKILLs the live worker (waiting for a start under way first); resolves once it is gone. */
  async kill(): Promise<{ pid: number; at: number } | undefined> {
    if (this.#starting !== undefined) await this.#starting.catch(() => undefined);
    const current = this.#current;
    if (current === undefined) return undefined;
    current.expectExit = true;
    const at = Date.now();
    current.child.kill('SIGKILL');
    await current.child;
    return { pid: current.pid, at };
  }

  /** SIGTERM (the worker finishes what it runs and exits), SIGKILL after 30 s; no restarts after. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#starting !== undefined) await this.#starting.catch(() => undefined);
    const current = this.#current;
    if (current !== undefined) {
      current.expectExit = true;
      current.child.kill('SIGTERM');
      const timer = setTimeout(() => current.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await current.child;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => (this.#log === undefined ? resolve() : this.#log.end(resolve)));
    this.#log = undefined;
  }

  async #startWithRetries(): Promise<number> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= START_ATTEMPTS && !this.#stopped; attempt++) {
      try {
        return await this.#startOnce();
      } catch (error) {
        lastError = error;
        await sleep(500);
      }
    }
    throw new Error(`worker ${this.spec.hostId} did not start after ${START_ATTEMPTS} attempts`, {
      cause: lastError,
    });
  }

  #startOnce(): Promise<number> {
    const { spec } = this;
    const argv = [
      HANGAR_BIN,
      'worker',
      '--host-id',
      spec.hostId,
      '--state-dir',
      spec.stateDir,
      '--vmm',
      'simulator',
      '--disk',
      'file',
      '--network-prefix',
      spec.network.prefix,
      '--veth-range',
      spec.network.vethRange,
      '--host-range',
      spec.network.hostRange,
      '--prefix',
      spec.keyPrefix,
      '--redis',
      spec.redisUrl,
    ];
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (value !== undefined && !CONFIG_ENV.test(name)) env[name] = value;
    }
    env.HANGAR_SIM_LATENCY = spec.simLatency;
    if (spec.compileCacheDir !== undefined) env.NODE_COMPILE_CACHE = spec.compileCacheDir;
    // Warnings and errors only, unless the output is kept: the rest costs CPU the kills share.
    env.HANGAR_LOG_LEVEL = spec.logDir === undefined ? 'warn' : 'info';
    const child = execa(process.execPath, argv, {
      env,
      extendEnv: false,
      reject: false,
      cleanup: true,
      buffer: false,
      stdin: 'ignore',
    });
    if (child.pid === undefined) return Promise.reject(new Error('the worker could not be spawned'));
    const incarnation: Incarnation = { child, pid: child.pid, expectExit: false, tail: [] };
    this.pids.add(child.pid);
    this.#current = incarnation;
    if (spec.logDir !== undefined) {
      this.#log ??= createWriteStream(join(spec.logDir, `${spec.hostId}.log`), { flags: 'a' });
      this.#log.write(`--- worker pid ${child.pid} started ${new Date().toISOString()}\n`);
    }
    return new Promise<number>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        incarnation.expectExit = true;
        child.kill('SIGKILL');
        reject(new Error(`worker pid ${child.pid} not consuming after ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      const onOutput = (chunk: Buffer) => {
        const text = chunk.toString();
        this.#log?.write(text);
        for (const line of text.split('\n'))
          if (line.trim() !== '') incarnation.tail.push(line.slice(0, 500));
        incarnation.tail.splice(0, Math.max(0, incarnation.tail.length - 40));
        if (!ready && CONSUMING.test(text)) {
          ready = true;
          clearTimeout(timer);
          resolve(Date.now());
        }
      };
      child.stdout?.on('data', onOutput);
      child.stderr?.on('data', onOutput);
      void child.then((result) => {
        clearTimeout(timer);
        if (this.#current === incarnation) this.#current = undefined;
        if (!ready) {
          this.failedStarts.push({ at: Date.now(), outputTail: incarnation.tail });
          const said = incarnation.tail.slice(-3).join(' | ');
          reject(new Error(`worker pid ${incarnation.pid} exited before consuming: ${said}`));
          return;
        }
        if (incarnation.expectExit) return;
        this.unexpectedExits.push({
          at: Date.now(),
          pid: incarnation.pid,
          exitCode: typeof result.exitCode === 'number' ? result.exitCode : undefined,
          signal: result.signal ?? undefined,
          outputTail: incarnation.tail,
        });
        if (!this.#stopped) void this.start().catch(() => undefined);
      });
    });
  }
}
