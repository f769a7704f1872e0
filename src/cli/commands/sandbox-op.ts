import type { Command } from 'commander';
import type { HangarClient } from '../../producer/hangar-client.ts';
import type { JobHandle } from '../../producer/job-handle.ts';
import { Identifier } from '../../validation/identifiers.ts';
import { addFleetOptions, FleetFlags, parseFlags } from './cli-options.ts';
import { withClient } from './client.ts';
import { addWaitOptions, reportJob, WaitFlags } from './job-output.ts';

const OpFlags = FleetFlags.extend({ '<id>': Identifier, ...WaitFlags });

/** Registers a command that enqueues one job on a sandbox by id (pause, resume, destroy). */
export function registerSandboxOp(
  program: Command,
  name: string,
  description: string,
  enqueue: (client: HangarClient, sandboxId: string) => Promise<JobHandle>,
): void {
  const command = program.command(name).argument('<id>', 'the sandbox id').description(description);
  addWaitOptions(addFleetOptions(command)).action(async (id: string, raw: Record<string, unknown>) => {
    const flags = parseFlags(name, OpFlags, { ...raw, '<id>': id });
    await withClient(flags, async (client) => {
      const handle = await enqueue(client, id);
      await reportJob(handle, { wait: flags.wait, timeoutSeconds: flags.timeout, json: flags.json });
    });
  });
}
