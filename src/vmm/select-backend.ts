import type { Logger } from '../logging/logger.ts';
import { CloudHypervisorBackend } from './cloud-hypervisor/ch-backend.ts';
import type { VmmBackend } from './vm-driver.ts';

/**
 * Which VMM a host runs. 'auto' and 'ch-or-simulator': the real cloud-hypervisor when
 * installed, else the simulator (a stand-in, and its description says so).
 */
export type VmmChoice = 'auto' | 'ch-or-simulator' | 'cloud-hypervisor' | 'simulator' | 'qemu';

/** The host's VMM backend for `choice`. */
export async function selectVmmBackend(
  choice: VmmChoice,
  options: { logger?: Logger } = {},
): Promise<VmmBackend> {
  switch (choice) {
    case 'simulator':
      return CloudHypervisorBackend.detect({ simulator: true, ...options });
    case 'qemu':
      throw new Error('the QEMU backend is not built yet');
    default:
      return CloudHypervisorBackend.detect(options);
  }
}
