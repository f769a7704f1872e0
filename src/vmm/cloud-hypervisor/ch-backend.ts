import { fileURLToPath } from 'node:url';
import type { Logger } from '../../logging/logger.ts';
import { findExecutable } from '../process/find-executable.ts';
import type { SandboxVm, VmmBackend, VmmBackendInfo } from '../vm-driver.ts';
import { ChSandboxVm, type ChSandboxVmOptions } from './ch-sandbox-vm.ts';
import { assertSupportedChVersion, detectChVersion } from './version.ts';

/**
 * The simulator executable shipped in this package: the stand-in where no cloud-hypervisor exists.
 * It sits beside this module's own kind: bin/hangar-ch-sim.ts when running from source,
 * dist/bin/hangar-ch-sim.js in the built package (which Node runs without type stripping).
 */
export const SIMULATOR_SCRIPT = fileURLToPath(
  new URL(`../../../bin/hangar-ch-sim${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

/** How to run the simulator as a VMM binary. */
export function simulatorBinary(): string[] {
  return [process.execPath, SIMULATOR_SCRIPT];
}

/** Finds a real cloud-hypervisor: HANGAR_CH_BINARY, else `cloud-hypervisor` on PATH. */
export function findChBinary(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  return findExecutable('cloud-hypervisor', env.HANGAR_CH_BINARY, env.PATH);
}

/** Cloud Hypervisor for every sandbox of a host: the real binary, or the simulator standing in. */
export class CloudHypervisorBackend implements VmmBackend {
  readonly info: VmmBackendInfo;
  readonly #binary: string[];
  readonly #options: Omit<ChSandboxVmOptions, 'binary'>;

  private constructor(binary: string[], info: VmmBackendInfo, options: Omit<ChSandboxVmOptions, 'binary'>) {
    this.#binary = binary;
    this.info = info;
    this.#options = options;
  }

  /**
   * The real cloud-hypervisor when one is installed (checked for the minimum version),
   * else the simulator, or the simulator when `simulator` is forced.
   */
  static async detect(
    options: { simulator?: boolean; logger?: Logger } & Omit<ChSandboxVmOptions, 'binary'> = {},
  ): Promise<CloudHypervisorBackend> {
    const real = options.simulator ? undefined : await findChBinary();
    const binary = real === undefined ? simulatorBinary() : [real];
    const version = await detectChVersion(binary);
    assertSupportedChVersion(version);
    const standIn = real === undefined;
    const description = standIn
      ? `CH API simulator ${version.raw} (stand-in: no cloud-hypervisor binary on this machine)`
      : `cloud-hypervisor ${version.raw} at ${real}`;
    return new CloudHypervisorBackend(
      binary,
      { kind: 'cloud-hypervisor', standIn, version: version.raw, description },
      options,
    );
  }

  sandbox(sandboxId: string, runtimeDir: string): SandboxVm {
    return new ChSandboxVm(sandboxId, runtimeDir, { ...this.#options, binary: this.#binary });
  }
}
