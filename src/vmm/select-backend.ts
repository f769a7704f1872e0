import type { Logger } from '../logging/logger.ts';
import { CloudHypervisorBackend, findChBinary } from './cloud-hypervisor/ch-backend.ts';
import { InProcessBackend } from './in-process/in-process-backend.ts';
import { findQemuBinary, QemuBackend } from './qemu/qemu-backend.ts';
import type { VmmBackend } from './vm-driver.ts';

/**
 * Which VMM a host runs. 'auto': the real cloud-hypervisor, else QEMU, else the simulator;
 * 'ch-or-simulator': the real cloud-hypervisor, else the simulator (the demo: fast and
 * guest-free where no CH exists); 'in-process-stand-in': no VM at all, only VM state in the
 * worker's memory (never chosen by 'auto'); the others force one backend.
 */
export type VmmChoice =
  | 'auto'
  | 'ch-or-simulator'
  | 'cloud-hypervisor'
  | 'simulator'
  | 'qemu'
  | 'in-process-stand-in';

/** The host's VMM backend for `choice`; a stand-in (simulator, in-process) says so in its description. */
export async function selectVmmBackend(
  choice: VmmChoice,
  options: { logger?: Logger } = {},
): Promise<VmmBackend> {
  switch (choice) {
    case 'simulator':
      return CloudHypervisorBackend.detect({ simulator: true, ...options });
    case 'qemu':
      return QemuBackend.detect(options);
    case 'in-process-stand-in':
      return new InProcessBackend();
    case 'auto':
      if ((await findChBinary()) === undefined && (await findQemuBinary()) !== undefined) {
        return QemuBackend.detect(options);
      }
      return CloudHypervisorBackend.detect(options);
    default:
      // 'cloud-hypervisor' and 'ch-or-simulator': the real binary when installed, else the simulator.
      return CloudHypervisorBackend.detect(options);
  }
}
