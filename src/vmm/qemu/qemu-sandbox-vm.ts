import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IllegalStateError } from '../../errors/index.ts';
import { type Logger, silentLogger } from '../../logging/logger.ts';
import { launchDetached, waitReady } from '../process/index.ts';
import { SandboxProcess } from '../process/sandbox-process.ts';
import { prepareRuntimeDir, type RuntimePaths, runtimePaths } from '../runtime-paths.ts';
import { diskUsage, isCompleteSnapshot, writeSnapshotAtomically } from '../snapshot-dir.ts';
import type { EnsureOutcome, SandboxVm, SnapshotInfo, VmCrash, VmState } from '../vm-driver.ts';
import type { VmSpec } from '../vm-spec.ts';
import { migrateToFile, migrationTimeoutMs } from './migration.ts';
import { assertShellSafePath, restoreMigrationUri } from './migration-uri.ts';
import { buildQemuArgs, type QemuAccel } from './qemu-args.ts';
import { QEMU_SNAPSHOT_FILES, readSnapshotRecord } from './qemu-snapshot.ts';
import { QmpClient } from './qmp-client.ts';
import type { RunState } from './qmp-schemas.ts';
import { isResumable, vmStateOf } from './run-state.ts';
import { readSpecFile, SPEC_FILE, type SpecRecord, specRecord, writeSpecFile } from './spec-file.ts';

/** How long each escalation step of a shutdown may take before the next one. */
export interface QemuShutdownTimeouts {
  qmpMs: number;
  exitMs: number;
  termMs: number;
  killMs: number;
}

/** How a QemuSandboxVm runs QEMU; only `accel` is required. */
export interface QemuSandboxVmOptions {
  /** Default 'qemu-system-x86_64'. */
  binary?: string;
  accel: QemuAccel;
  logger?: Logger;
  /** Until QMP answers after launch; default 10 s. */
  readyTimeoutMs?: number;
  /** Per QMP command; default 5 s. */
  qmpTimeoutMs?: number;
  shutdownTimeouts?: Partial<QemuShutdownTimeouts>;
}

/**
 * One sandbox's QEMU VM, driven over QMP behind the same SandboxVm interface as Cloud
 * Hypervisor. QEMU has no create/boot split (it boots on launch); a snapshot is a migration
 * of the paused VM into a file, a restore a new QEMU started with -incoming from it.
 */
export class QemuSandboxVm implements SandboxVm {
  readonly sandboxId: string;
  readonly paths: RuntimePaths;
  readonly #binary: string;
  readonly #accel: QemuAccel;
  readonly #log: Logger;
  readonly #readyTimeoutMs: number;
  readonly #qmpTimeoutMs: number;
  readonly #shutdown: QemuShutdownTimeouts;
  readonly #process: SandboxProcess;

  constructor(sandboxId: string, runtimeDir: string, options: QemuSandboxVmOptions) {
    this.sandboxId = sandboxId;
    this.paths = runtimePaths(runtimeDir);
    this.#binary = options.binary ?? 'qemu-system-x86_64';
    this.#accel = options.accel;
    this.#log = (options.logger ?? silentLogger).child({ sandboxId, vmm: 'qemu' });
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
    this.#qmpTimeoutMs = options.qmpTimeoutMs ?? 5_000;
    const shutdownDefaults = { qmpMs: 2_000, exitMs: 3_000, termMs: 2_000, killMs: 2_000 };
    this.#shutdown = { ...shutdownDefaults, ...options.shutdownTimeouts };
    this.#process = new SandboxProcess(sandboxId, this.paths, {
      extraLogPath: this.paths.serialLog,
      log: this.#log,
      probe: () => this.#answers(),
      readyTimeoutMs: this.#readyTimeoutMs,
      terminate: { termGraceMs: this.#shutdown.termMs, killGraceMs: this.#shutdown.killMs },
    });
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  reattach(): Promise<boolean> {
    return this.#process.reattach();
  }

  async state(): Promise<VmState> {
    if (!(await this.reattach())) return 'absent';
    return vmStateOf(await this.#runState());
  }

  async ensureBooted(spec: VmSpec): Promise<EnsureOutcome> {
    if (await this.reattach()) {
      await this.#assertSameDisk(spec);
      if (vmStateOf(await this.#runState()) !== 'shutdown') return 'already';
      // The guest powered off (QEMU runs with -no-shutdown): boot it again in a fresh QEMU.
      await this.shutdown();
    }
    await this.#launch(spec);
    return 'done';
  }

  async ensurePaused(): Promise<EnsureOutcome> {
    const status = await this.#requireRunState('pause');
    if (status === 'running') {
      await this.#qmp((qmp) => qmp.execute('stop'));
      return 'done';
    }
    if (vmStateOf(status) === 'paused') return 'already';
    throw new IllegalStateError(`cannot pause a VM that is ${status}`, { sandboxId: this.sandboxId, status });
  }

  async ensureResumed(): Promise<EnsureOutcome> {
    const status = await this.#requireRunState('resume');
    if (status === 'running') return 'already';
    if (!isResumable(status)) {
      throw new IllegalStateError(`cannot resume a VM that is ${status}`, {
        sandboxId: this.sandboxId,
        status,
      });
    }
    await this.#qmp((qmp) => qmp.execute('cont'));
    return 'done';
  }

  async snapshotTo(dir: string): Promise<SnapshotInfo> {
    if (await isCompleteSnapshot(dir, QEMU_SNAPSHOT_FILES)) {
      return { dir, diskBytes: await diskUsage(dir), outcome: 'already' };
    }
    assertShellSafePath(dir);
    await this.ensurePaused();
    const launched = await this.#launchRecord();
    await writeSnapshotAtomically(dir, async (staging) => {
      const timeoutMs = migrationTimeoutMs(launched.memoryMib);
      await this.#qmp((qmp) => migrateToFile(qmp, staging, timeoutMs));
      await writeSpecFile(staging, launched);
    });
    this.#log.info({ dir }, 'snapshot written');
    return { dir, diskBytes: await diskUsage(dir), outcome: 'done' };
  }

  async restoreFrom(dir: string, spec: VmSpec, options: { resume: boolean }): Promise<EnsureOutcome> {
    let outcome: EnsureOutcome = 'already';
    if (await this.reattach()) {
      await this.#assertSameDisk(spec);
    } else {
      const snapshot = await readSnapshotRecord(dir);
      // The stream only loads into a machine of the same shape: take it from the snapshot.
      const shaped: VmSpec = { ...spec, vcpus: snapshot.vcpus, memoryMib: snapshot.memoryMib };
      await this.#launch(shaped, restoreMigrationUri(dir));
      outcome = 'done';
    }
    // Waits out the load, also one an earlier attempt launched and did not see through. Through
    // waitReady: QEMU exiting meanwhile (a damaged stream) fails as VmmExitedError with its output.
    const launched = await this.#launchRecord();
    let loading = false;
    const loaded = async () => {
      const inmigrate = (await this.#runState()) === 'inmigrate';
      loading ||= inmigrate;
      return !inmigrate;
    };
    await waitReady(this.#process.adopted!, loaded, {
      timeoutMs: migrationTimeoutMs(launched.memoryMib),
      intervalMs: 50,
    });
    if (loading) outcome = 'done';
    if (options.resume && isResumable(await this.#runState())) {
      await this.#qmp((qmp) => qmp.execute('cont'));
      outcome = 'done';
    }
    return outcome;
  }

  async shutdown(): Promise<EnsureOutcome> {
    if (!(await this.reattach())) {
      await this.#removeRuntimeFiles();
      return 'already';
    }
    await this.#process.stop(async () => {
      // QMP quit may fail (busy or hung): the signals that follow are stronger.
      await this.#qmp((qmp) => qmp.execute('quit'), this.#shutdown.qmpMs).catch((error) =>
        this.#log.debug({ err: error }, 'QMP quit failed'),
      );
    }, this.#shutdown);
    await this.#removeRuntimeFiles();
    return 'done';
  }

  onCrash(listener: (crash: VmCrash) => void): () => void {
    return this.#process.onCrash(listener);
  }

  async #launch(spec: VmSpec, incoming?: string): Promise<void> {
    await prepareRuntimeDir(this.paths, [this.paths.output, this.paths.serialLog]);
    await rm(this.paths.apiSocket, { force: true });
    await writeSpecFile(this.paths.dir, specRecord(spec));
    const argv = buildQemuArgs({
      binary: this.#binary,
      accel: this.#accel,
      spec,
      qmpSocket: this.paths.apiSocket,
      serialLog: this.paths.serialLog,
      ...(incoming === undefined ? {} : { incoming }),
    });
    const proc = await launchDetached(
      {
        argv,
        env: spec.env,
        outputPath: this.paths.output,
        // QEMU keeps no log of its own; the guest console is what explains a death.
        extraLogPath: this.paths.serialLog,
        pidfilePath: this.paths.pidfile,
        identity: this.paths.apiSocket,
      },
      this.#log,
    );
    this.#process.adopt(proc);
    await waitReady(proc, () => this.#answers(), { timeoutMs: this.#readyTimeoutMs, intervalMs: 20 });
    this.#log.info({ pid: proc.pid, restore: incoming !== undefined, accel: this.#accel }, 'QEMU launched');
  }

  // One short QMP session per step: QEMU serves a single QMP client at a time.
  async #qmp<T>(work: (qmp: QmpClient) => Promise<T>, timeoutMs = this.#qmpTimeoutMs): Promise<T> {
    const qmp = await QmpClient.connect(this.paths.apiSocket, {
      connectTimeoutMs: timeoutMs,
      timeoutMs,
      logger: this.#log,
    });
    try {
      return await work(qmp);
    } finally {
      await qmp.close();
    }
  }

  // QMP answers a status query: the readiness probe after a launch or an adoption.
  async #answers(): Promise<boolean> {
    await this.#runState(1_000);
    return true;
  }

  async #runState(timeoutMs?: number): Promise<RunState> {
    return (await this.#qmp((qmp) => qmp.queryStatus(), timeoutMs)).status;
  }

  async #requireRunState(action: string): Promise<RunState> {
    if (!(await this.reattach())) {
      throw new IllegalStateError(`cannot ${action}: sandbox ${this.sandboxId} has no VM`);
    }
    return this.#runState();
  }

  async #launchRecord(): Promise<SpecRecord> {
    const record = await readSpecFile(this.paths.dir);
    if (record === undefined) {
      throw new IllegalStateError(
        `QEMU of ${this.sandboxId} runs without ${join(this.paths.dir, SPEC_FILE)}`,
      );
    }
    return record;
  }

  // A QEMU found running with someone else's disk must never be adopted as this sandbox.
  async #assertSameDisk(spec: VmSpec): Promise<void> {
    const disk = (await readSpecFile(this.paths.dir))?.diskPath;
    if (disk !== undefined && disk !== spec.diskPath) {
      throw new IllegalStateError(`VM of ${this.sandboxId} runs disk ${disk}, expected ${spec.diskPath}`);
    }
  }

  async #removeRuntimeFiles(): Promise<void> {
    const { apiSocket, pidfile, dir } = this.paths;
    await Promise.all([apiSocket, pidfile, join(dir, SPEC_FILE)].map((p) => rm(p, { force: true })));
  }
}
