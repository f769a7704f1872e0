import type { Command } from 'commander';
import { z } from 'zod';
import { Identifier } from '../../validation/identifiers.ts';
import { addFleetOptions, collect, FleetFlags, LabelFlags, parseFlags } from './cli-options.ts';
import { withClient } from './client.ts';
import { addWaitOptions, reportJob, WaitFlags } from './job-output.ts';

const RestoreFlags = FleetFlags.extend({
  '<snapshotId>': Identifier,
  id: Identifier.optional(),
  label: LabelFlags,
  resume: z.boolean().default(true),
  host: Identifier.optional(),
  elsewhere: z.boolean().default(false),
  ...WaitFlags,
});

/**
 * `hangar restore <snapshotId>`: a new sandbox from a snapshot, on the host that holds it,
 * or on another (`--host`, `--elsewhere`) that fetches the snapshot first.
 */
export function registerRestore(program: Command): void {
  const command = program
    .command('restore')
    .argument('<snapshotId>', 'the snapshot to restore')
    .description(
      'restore a snapshot as a new sandbox (on the host that holds it unless --host or --elsewhere)',
    )
    .option('--id <sandboxId>', 'the new sandbox’s id (default: generated)')
    .option('--label <key=value>', 'a label for the new sandbox (repeatable)', collect)
    .option('--no-resume', 'leave the restored sandbox paused')
    .option('--host <hostId>', 'restore on this host: it fetches the snapshot from its home first (a move)')
    .option('--elsewhere', 'restore on any other live host that can (CPU flags, VMM, room)');
  addWaitOptions(addFleetOptions(command)).action(
    async (snapshotId: string, raw: Record<string, unknown>) => {
      const flags = parseFlags('restore', RestoreFlags, { ...raw, '<snapshotId>': snapshotId });
      await withClient(flags, async (client) => {
        const handle = await client.restore(snapshotId, {
          resume: flags.resume,
          labels: flags.label,
          ...(flags.id === undefined ? {} : { sandboxId: flags.id }),
          ...(flags.host === undefined ? {} : { hostId: flags.host }),
          ...(flags.elsewhere ? { elsewhere: true } : {}),
        });
        await reportJob(handle, { wait: flags.wait, timeoutSeconds: flags.timeout, json: flags.json });
      });
    },
  );
}
