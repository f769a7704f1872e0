import { type CommandRunner, defaultRunner } from '../exec/command-runner.ts';
import { runTolerating } from './command.ts';
import type { NetworkConfig } from './network-config.ts';
import { slotLayout } from './slot-layout.ts';

/** Options of removeNetwork. */
export interface RemoveNetworkOptions {
  /** Default: defaultRunner. */
  runner?: CommandRunner;
}

/**
 * Removes what ensureNetwork built for the slot; every piece may already be gone. The host
 * veth goes before the namespace so the pair dies even if a VMM still holds the namespace.
 * Leaves the host table alone: other slots use it.
 */
export async function removeNetwork(
  slot: number,
  config: NetworkConfig,
  options: RemoveNetworkOptions = {},
): Promise<void> {
  const layout = slotLayout(slot, config);
  const runner = options.runner ?? defaultRunner;
  await runTolerating(runner, ['ip', 'route', 'del', `${layout.hostIp}/32`, 'dev', layout.hostVeth]);
  await runTolerating(runner, ['ip', 'link', 'del', layout.hostVeth]);
  // Deleting the namespace takes eth0, tap0 and the NAT table with it.
  await runTolerating(runner, ['ip', 'netns', 'del', layout.netns]);
}
