import type { Command } from 'commander';
import { z } from 'zod';
import { Identifier } from '../../validation/identifiers.ts';
import { addFleetOptions, FleetFlags, parseFlags } from './cli-options.ts';
import { withClient } from './client.ts';
import { addWaitOptions, reportJob, WaitFlags } from './job-output.ts';

const SnapshotFlags = FleetFlags.extend({
  '<id>': Identifier,
  snapshotId: Identifier.optional(),
  resume: z.boolean().default(true),
  ...WaitFlags,
});

/** `hangar snapshot <id>`: memory, device state and disk, taken together while the VM is paused. */
export function registerSnapshot(program: Command): void {
  const command = program
    .command('snapshot')
    .argument('<id>', 'the sandbox id')
    .description('snapshot a sandbox (memory, device state and disk together); it keeps running afterwards')
    .option('--snapshot-id <id>', 'the snapshot’s id (default: generated)')
    .option('--no-resume', 'leave the sandbox paused after the snapshot');
  addWaitOptions(addFleetOptions(command)).action(async (id: string, raw: Record<string, unknown>) => {
    const flags = parseFlags('snapshot', SnapshotFlags, { ...raw, '<id>': id });
    await withClient(flags, async (client) => {
      const handle = await client.snapshot(id, {
        resumeAfter: flags.resume,
        ...(flags.snapshotId === undefined ? {} : { snapshotId: flags.snapshotId }),
      });
      await reportJob(handle, { wait: flags.wait, timeoutSeconds: flags.timeout, json: flags.json });
    });
  });
}
