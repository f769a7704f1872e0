import { join } from 'node:path';
import { type Logger, silentLogger } from '../../logging/logger.ts';
import { findVmmProcesses } from './find-vmm-processes.ts';
import {
  DEFAULT_TERMINATE_GRACE,
  type TerminateOptions,
  type TerminateOutcome,
  terminate,
} from './terminate.ts';
import { VmmProcess } from './vmm-process.ts';

/** A VMM that killUnownedVmms ended, and how. */
export interface KilledVmm {
  sandboxId: string;
  pid: number;
  how: TerminateOutcome;
}

/**
 * Ends every VMM under `runRoot` whose sandbox is not in `owned` (SIGTERM to its group, then
 * SIGKILL): for the startup reconcile, so a VMM whose launch no record survived never runs on
 * beside its retry. All are tried; the first that outlives SIGKILL is thrown after the rest.
 */
export async function killUnownedVmms(
  runRoot: string,
  owned: ReadonlySet<string>,
  log: Logger = silentLogger,
  grace: TerminateOptions = DEFAULT_TERMINATE_GRACE,
): Promise<KilledVmm[]> {
  const unowned = (await findVmmProcesses(runRoot)).filter((vmm) => !owned.has(vmm.sandboxId));
  const settled = await Promise.allSettled(
    unowned.map(async ({ sandboxId, pid, startTime, argv }): Promise<KilledVmm | undefined> => {
      // Identity: its runtime dir, which is what made it this sandbox's VMM.
      const identity = `${join(runRoot, sandboxId)}/`;
      const proc =
        startTime === undefined
          ? undefined
          : VmmProcess.attach({ pid, procStartTime: startTime, argv, identity });
      if (proc === undefined) return undefined; // ended while we looked
      const how = await terminate(proc, grace);
      log.warn({ sandboxId, pid, how }, 'ended a VMM no sandbox of this host owns');
      return { sandboxId, pid, how };
    }),
  );
  const failure = settled.find((result) => result.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  return settled
    .map((result) => (result.status === 'fulfilled' ? result.value : undefined))
    .filter((killed) => killed !== undefined);
}
