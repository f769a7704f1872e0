import type { Command } from 'commander';
import { z } from 'zod';
import type { JobHandle } from '../../producer/job-handle.ts';
import { intFlag } from './cli-options.ts';
import { printJson } from './output.ts';

/** Flags of every command that enqueues one job: wait for it or not, and for how long. */
export const WaitFlags = { wait: z.boolean().default(false), timeout: intFlag(1, 86_400).default(120) };

/** Adds --wait and --timeout to a command that enqueues a job. */
export function addWaitOptions(command: Command): Command {
  return command
    .option('--wait', 'wait for the job to finish and print its result')
    .option('--timeout <seconds>', 'how long --wait waits', '120');
}

/**
 * Prints an enqueued job, or with `wait` waits for it and prints its result. A job that fails
 * for good rejects with its error code (printed as `hangar: E_...: ...`, exit 1).
 */
export async function reportJob(
  handle: JobHandle,
  options: { wait?: boolean; timeoutSeconds: number; json: boolean },
): Promise<void> {
  if (!options.wait) {
    if (options.json) printJson({ job: handle.toJSON() });
    else
      console.log(
        `enqueued ${handle.op} of ${handle.sandboxId} on host ${handle.hostId} (job ${handle.jobId})`,
      );
    return;
  }
  const started = performance.now();
  const result = await handle.result(options.timeoutSeconds * 1000);
  const ms = performance.now() - started;
  if (options.json) {
    printJson({ job: handle.toJSON(), result });
    return;
  }
  const details = Object.entries(result)
    .filter(([key, value]) => key !== 'outcome' && key !== 'sandboxId' && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join(' ');
  console.log(
    `${handle.op} ${handle.sandboxId}: ${String(result.outcome ?? 'done')} in ${ms.toFixed(0)} ms${details ? `  ${details}` : ''}`,
  );
}
