import { execa } from 'execa';
import { CommandError, NotFoundError } from '../../errors/index.ts';
import type { Logger } from '../../logging/logger.ts';
import { findExecutable } from '../process/find-executable.ts';
import type { SandboxVm, VmmBackend, VmmBackendInfo } from '../vm-driver.ts';
import { resolveAccel } from './accel.ts';
import type { QemuAccel } from './qemu-args.ts';
import { QemuSandboxVm, type QemuSandboxVmOptions } from './qemu-sandbox-vm.ts';

/** Finds QEMU: HANGAR_QEMU_BINARY, else `qemu-system-x86_64` on PATH. */
export function findQemuBinary(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  return findExecutable('qemu-system-x86_64', env.HANGAR_QEMU_BINARY, env.PATH);
}

/** QEMU's version from `--version` ("QEMU emulator version 7.2.22 (Debian ...)" gives "7.2.22"). */
export async function detectQemuVersion(binary: string): Promise<string> {
  const result = await execa(binary, ['--version'], { reject: false, timeout: 10_000 });
  const match = /version (\d+\.\d+\.\d+)/.exec(result.stdout);
  if (result.exitCode !== 0 || match?.[1] === undefined) {
    throw new CommandError([binary, '--version'], result.exitCode, `${result.stderr}${result.stdout}`);
  }
  return match[1];
}

/** Options of QemuBackend.detect(); accel defaults to resolveAccel() (TCG unless told otherwise). */
export type QemuBackendOptions = { logger?: Logger; accel?: QemuAccel; env?: NodeJS.ProcessEnv } & Omit<
  QemuSandboxVmOptions,
  'binary' | 'accel'
>;

/** QEMU for every sandbox of a host: a real VMM (not a stand-in), TCG or KVM. */
export class QemuBackend implements VmmBackend {
  readonly info: VmmBackendInfo;
  readonly #options: QemuSandboxVmOptions;

  private constructor(info: VmmBackendInfo, options: QemuSandboxVmOptions) {
    this.info = info;
    this.#options = options;
  }

  /** Finds QEMU and its version; throws NotFoundError when it is not installed. */
  static async detect(options: QemuBackendOptions = {}): Promise<QemuBackend> {
    const { env = process.env, accel: forced, ...vmOptions } = options;
    const binary = await findQemuBinary(env);
    if (binary === undefined) {
      throw new NotFoundError('no qemu-system-x86_64 on PATH (or set HANGAR_QEMU_BINARY)');
    }
    const version = await detectQemuVersion(binary);
    const accel = forced ?? (await resolveAccel(env, binary));
    const how = accel === 'kvm' ? 'KVM' : 'TCG software emulation';
    return new QemuBackend(
      { kind: 'qemu', standIn: false, version, description: `QEMU ${version} (${how}) at ${binary}` },
      { ...vmOptions, binary, accel },
    );
  }

  sandbox(sandboxId: string, runtimeDir: string): SandboxVm {
    return new QemuSandboxVm(sandboxId, runtimeDir, this.#options);
  }
}
