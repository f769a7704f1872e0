import { rm } from 'node:fs/promises';
import { IllegalStateError } from '../../errors/index.ts';
import { type Logger, silentLogger } from '../../logging/logger.ts';
import { launchDetached, waitReady } from '../process/index.ts';
import { inNetns } from '../process/namespaces.ts';
import { SandboxProcess } from '../process/sandbox-process.ts';
import { prepareRuntimeDir, type RuntimePaths, runtimePaths } from '../runtime-paths.ts';
import { diskUsage, isCompleteSnapshot, writeSnapshotAtomically } from '../snapshot-dir.ts';
import type { EnsureOutcome, SandboxVm, SnapshotInfo, VmCrash, VmState } from '../vm-driver.ts';
import type { VmSpec } from '../vm-spec.ts';
import { ChApiClient } from './api-client.ts';
import { ChApiError, isVmNotCreated } from './api-errors.ts';
import { buildChArgs } from './launch-args.ts';
import { SNAPSHOT_FILES, stageRestore } from './restore-staging.ts';
import type { VmInfo } from './schemas/index.ts';
import { buildVmConfig } from './vm-config.ts';

/** How long each escalation step of a shutdown may take before the next one. */
export interface ChShutdownTimeouts {
  apiMs: number;
  exitMs: number;
  termMs: number;
  killMs: number;
}

export interface ChSandboxVmOptions {
  /** argv prefix of the VMM: ['cloud-hypervisor'] or the simulator's [node, script]. */
  binary: string[];
  logger?: Logger;
  readyTimeoutMs?: number;
  shutdownTimeouts?: Partial<ChShutdownTimeouts>;
}

// CH never reports Shutdown (the spec lists it): vm.shutdown drops the VM and keeps its
// config, so vm.info says Created. Created is also what a VMM shows after vm.create.
const STATE_BY_CH: Record<VmInfo['state'], VmState> = {
  Created: 'created',
  Running: 'running',
  Paused: 'paused',
  Shutdown: 'shutdown',
  BreakPoint: 'paused',
};

/**
 * One sandbox's Cloud Hypervisor VM. Every method probes the real state first (is the
 * process alive, what does vm.info say) and never trusts an HTTP status alone: CH answers
 * nearly every wrong-state call with 500. What CH answers, state by state, is the table in
 * src/vmm/simulator/ch-answers.
 */
export class ChSandboxVm implements SandboxVm {
  readonly sandboxId: string;
  readonly paths: RuntimePaths;
  readonly #binary: string[];
  readonly #log: Logger;
  readonly #readyTimeoutMs: number;
  readonly #shutdown: ChShutdownTimeouts;
  readonly #process: SandboxProcess;
  #api: ChApiClient;

  constructor(sandboxId: string, runtimeDir: string, options: ChSandboxVmOptions) {
    this.sandboxId = sandboxId;
    this.paths = runtimePaths(runtimeDir);
    this.#binary = options.binary;
    this.#log = (options.logger ?? silentLogger).child({ sandboxId, vmm: 'cloud-hypervisor' });
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
    this.#shutdown = {
      apiMs: 2_000,
      exitMs: 2_000,
      termMs: 2_000,
      killMs: 2_000,
      ...options.shutdownTimeouts,
    };
    this.#api = new ChApiClient(this.paths.apiSocket);
    this.#process = new SandboxProcess(sandboxId, this.paths, {
      extraLogPath: this.paths.vmmLog,
      log: this.#log,
      probe: () => this.#ping(),
      readyTimeoutMs: this.#readyTimeoutMs,
      terminate: { termGraceMs: this.#shutdown.termMs, killGraceMs: this.#shutdown.killMs },
    });
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  /** The API client of this VM's VMM (for calls outside the lifecycle, such as counters). */
  get api(): ChApiClient {
    return this.#api;
  }

  reattach(): Promise<boolean> {
    return this.#process.reattach();
  }

  async state(): Promise<VmState> {
    if (!(await this.reattach())) return 'absent';
    const info = await this.#info();
    return info === undefined ? 'absent' : STATE_BY_CH[info.state];
  }

  async ensureBooted(spec: VmSpec): Promise<EnsureOutcome> {
    let outcome: EnsureOutcome = 'already';
    if (!(await this.reattach())) {
      await this.#launch(spec);
      outcome = 'done';
    }
    let info = await this.#info();
    if (info === undefined) {
      await this.#api.create(buildVmConfig(spec, this.paths.serialLog));
      info = await this.#info();
      outcome = 'done';
    }
    this.#assertSameDisk(info, spec);
    // Created: after vm.create, or after vm.shutdown (CH keeps the config); both boot.
    if (info?.state === 'Created') {
      await this.#api.boot();
      outcome = 'done';
    }
    return outcome;
  }

  async ensurePaused(): Promise<EnsureOutcome> {
    return this.#transition('pause', 'Running', 'Paused', () => this.#api.pause());
  }

  async ensureResumed(): Promise<EnsureOutcome> {
    return this.#transition('resume', 'Paused', 'Running', () => this.#api.resume());
  }

  // Pause and resume act first and look after: the call succeeds only from \`from\` (CH
  // refuses every other state with a 500), so a success is 'done' for certain, one API
  // call on the hot path instead of two. A refusal is never read as a state: vm.info says
  // whether the VM was already there ('already') or in a state the step cannot leave.
  async #transition(
    action: string,
    from: VmInfo['state'],
    to: VmInfo['state'],
    call: () => Promise<void>,
  ): Promise<EnsureOutcome> {
    if (!(await this.reattach()))
      throw new IllegalStateError(`cannot ${action}: sandbox ${this.sandboxId} has no VM`);
    let refusal: unknown;
    try {
      await call();
      return 'done';
    } catch (error) {
      if (!(error instanceof ChApiError)) throw error;
      refusal = error;
    }
    const info = await this.#requireVm(action);
    if (info.state === to) return 'already';
    if (info.state !== from) throw new IllegalStateError(`cannot ${action} a VM that is ${info.state}`);
    throw refusal;
  }

  async snapshotTo(dir: string): Promise<SnapshotInfo> {
    if (await isCompleteSnapshot(dir, SNAPSHOT_FILES)) {
      return { dir, diskBytes: await diskUsage(dir), outcome: 'already' };
    }
    await this.ensurePaused();
    await writeSnapshotAtomically(dir, (staging) =>
      this.#api.snapshot({ destination_url: `file://${staging}` }),
    );
    return { dir, diskBytes: await diskUsage(dir), outcome: 'done' };
  }

  async restoreFrom(dir: string, spec: VmSpec, options: { resume: boolean }): Promise<EnsureOutcome> {
    let outcome: EnsureOutcome = 'already';
    const running = await this.reattach();
    let info = running ? await this.#info() : undefined;
    // A config with no VM (a restored VM shut down, then a crash before the VMM exited) is not
    // a restore, and CH refuses vm.restore while any config is there: delete it first.
    if (info?.state === 'Created') {
      this.#assertSameDisk(info, spec);
      await this.#api.delete();
      info = undefined;
    }
    if (info === undefined) {
      await stageRestore(dir, this.paths.restoreStaging, spec, this.paths.serialLog);
      const sourceUrl = `file://${this.paths.restoreStaging}`;
      // A VMM that is up but empty (a crash between launch and restore) restores through the API.
      if (running) await this.#api.restore({ source_url: sourceUrl });
      else await this.#launch(spec, this.paths.restoreStaging);
      info = await this.#info();
      outcome = 'done';
    }
    this.#assertSameDisk(info, spec);
    if (options.resume && info?.state === 'Paused') {
      await this.#api.resume();
      outcome = 'done';
    }
    await rm(this.paths.restoreStaging, { recursive: true, force: true });
    return outcome;
  }

  async shutdown(): Promise<EnsureOutcome> {
    if (!(await this.reattach())) {
      await this.#removeRuntimeFiles();
      return 'already';
    }
    const quick = new ChApiClient(this.paths.apiSocket, { timeouts: { default: this.#shutdown.apiMs } });
    await this.#process.stop(async () => {
      try {
        // vmm.shutdown shuts the VM down itself (vm.shutdown first would add a call and a
        // wait, no safety); CH answers 200 and exits, and exits even when it refuses (a
        // migration in flight). A hung API or a VMM that stays leads to the signals.
        await quick.shutdownVmm().catch((error) => this.#log.debug({ err: error }, 'vmm.shutdown failed'));
      } finally {
        await quick.close();
      }
    }, this.#shutdown);
    await this.#removeRuntimeFiles();
    return 'done';
  }

  onCrash(listener: (crash: VmCrash) => void): () => void {
    return this.#process.onCrash(listener);
  }

  async #launch(spec: VmSpec, restoreDir?: string): Promise<void> {
    await prepareRuntimeDir(this.paths, [this.paths.output, this.paths.vmmLog, this.paths.serialLog]);
    await rm(this.paths.apiSocket, { force: true });
    const chArgs = buildChArgs({
      binary: this.#binary,
      apiSocket: this.paths.apiSocket,
      logFile: this.paths.vmmLog,
      verbosity: 1,
      // On demand: pages are read from the snapshot's memory file as the guest touches them,
      // so clones forked from one snapshot share that file instead of each copying it.
      ...(restoreDir === undefined
        ? {}
        : { restore: { sourceDir: restoreDir, resume: false, memoryRestoreMode: 'ondemand' as const } }),
    });
    const argv = spec.netns === undefined ? chArgs : inNetns(chArgs, spec.netns);
    const proc = await launchDetached(
      {
        argv,
        env: spec.env,
        outputPath: this.paths.output,
        extraLogPath: this.paths.vmmLog,
        pidfilePath: this.paths.pidfile,
        identity: this.paths.apiSocket,
      },
      this.#log,
    );
    this.#process.adopt(proc);
    await waitReady(proc, () => this.#ping(), { timeoutMs: this.#readyTimeoutMs, intervalMs: 10 });
    this.#log.info({ pid: proc.pid, restore: restoreDir !== undefined }, 'VMM launched');
  }

  async #ping(): Promise<boolean> {
    await this.#api.ping();
    return true;
  }

  async #info(): Promise<VmInfo | undefined> {
    try {
      return await this.#api.info();
    } catch (error) {
      if (isVmNotCreated(error)) return undefined;
      throw error;
    }
  }

  async #requireVm(action: string): Promise<VmInfo> {
    const info = (await this.reattach()) ? await this.#info() : undefined;
    if (info === undefined)
      throw new IllegalStateError(`cannot ${action}: sandbox ${this.sandboxId} has no VM`);
    return info;
  }

  // A VMM found running with someone else's disk must never be adopted as this sandbox.
  #assertSameDisk(info: VmInfo | undefined, spec: VmSpec): void {
    const disk = info?.config.disks?.[0]?.path;
    if (disk !== undefined && disk !== spec.diskPath) {
      throw new IllegalStateError(`VM of ${this.sandboxId} runs disk ${disk}, expected ${spec.diskPath}`);
    }
  }

  async #removeRuntimeFiles(): Promise<void> {
    const { apiSocket, pidfile, restoreStaging } = this.paths;
    await Promise.all(
      [apiSocket, pidfile, restoreStaging].map((p) => rm(p, { recursive: true, force: true })),
    );
  }
}
