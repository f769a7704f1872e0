import type { SandboxVm, VmCrash, VmmBackend } from '../vmm/vm-driver.ts';
import type { HostPaths } from './host-context.ts';

/** One SandboxVm handle per sandbox, each wired to the host's crash handler once. */
export class VmRegistry {
  readonly #backend: VmmBackend;
  readonly #paths: HostPaths;
  readonly #onCrash: (crash: VmCrash) => void;
  readonly #vms = new Map<string, SandboxVm>();

  constructor(backend: VmmBackend, paths: HostPaths, onCrash: (crash: VmCrash) => void) {
    this.#backend = backend;
    this.#paths = paths;
    this.#onCrash = onCrash;
  }

  /** The handle for a sandbox, made on first use. */
  get(sandboxId: string): SandboxVm {
    let vm = this.#vms.get(sandboxId);
    if (vm === undefined) {
      vm = this.#backend.sandbox(sandboxId, this.#paths.runtimeDir(sandboxId));
      vm.onCrash(this.#onCrash);
      this.#vms.set(sandboxId, vm);
    }
    return vm;
  }

  /**
   * VMM processes alive now among the handles (sandboxes and pool VMs): each handle's pid is
   * checked against /proc, so a crashed VMM drops out at once. The in-process stand-in has none.
   */
  liveProcesses(): number {
    let live = 0;
    for (const vm of this.#vms.values()) if (vm.pid !== undefined) live += 1;
    return live;
  }

  /** Forgets a destroyed sandbox's handle. */
  forget(sandboxId: string): void {
    this.#vms.delete(sandboxId);
  }
}
