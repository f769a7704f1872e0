import { type CommandRunner, defaultRunner } from '../exec/command-runner.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import type { NetworkConfig } from './network-config.ts';
import { type SlotLayout, slotLayout } from './slot-layout.ts';
import { runSlotSteps } from './steps/run-steps.ts';
import { readSlotState } from './steps/slot-state.ts';
import { SLOT_STEPS } from './steps/slot-steps.ts';

/** Options of ensureNetwork. */
export interface EnsureNetworkOptions {
  /** Default: defaultRunner. */
  runner?: CommandRunner;
  /** Called after every step (built or already there), by name: tests inject crashes here. */
  afterStep?: (step: string) => Promise<void> | void;
  /** Default: silentLogger. */
  logger?: Logger;
}

/**
 * Builds slot `slot`'s network (namespace, veth pair, TAP, namespace NAT, host route), each
 * piece only if the kernel does not already have it. Idempotent (a second call only reads),
 * and converges when re-run after failing at any step. Traffic leaving the host also needs
 * ensureHostNetwork. Throws NetworkError naming the failed step (code of its cause).
 */
export async function ensureNetwork(
  slot: number,
  config: NetworkConfig,
  options: EnsureNetworkOptions = {},
): Promise<SlotLayout> {
  const layout = slotLayout(slot, config);
  const runner = options.runner ?? defaultRunner;
  const state = await readSlotState(layout, runner);
  const built = await runSlotSteps(SLOT_STEPS, { layout, state }, runner, options.afterStep);
  if (built.length > 0) {
    (options.logger ?? silentLogger).debug({ slot, netns: layout.netns, built }, 'network slot built');
  }
  return layout;
}
