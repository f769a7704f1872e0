import type { Command } from 'commander';
import { z } from 'zod';
import { Identifier } from '../../validation/identifiers.ts';
import { addFleetOptions, collect, FleetFlags, intFlag, LabelFlags, parseFlags } from './cli-options.ts';
import { withClient } from './client.ts';
import { addWaitOptions, reportJob, WaitFlags } from './job-output.ts';

const CreateFlags = FleetFlags.extend({
  template: Identifier.optional(),
  vcpus: intFlag(1, 32).optional(),
  memory: intFlag(128, 65_536).optional(),
  label: LabelFlags,
  id: Identifier.optional(),
  idempotencyKey: z.string().min(1).max(200).optional(),
  ...WaitFlags,
});

/** `hangar create`: a new sandbox from a template on the host with most room (from a snapshot: `hangar restore`). */
export function registerCreate(program: Command): void {
  const command = program
    .command('create')
    .description(
      'create a sandbox from a template on the live host with the most room (from a snapshot: hangar restore)',
    )
    .option('--template <id>', 'template to boot')
    .option('--vcpus <n>', 'virtual CPUs (default: 1)')
    .option('--memory <mib>', 'guest memory in MiB (default: 512)')
    .option('--label <key=value>', 'a label to select the sandbox by later (repeatable)', collect)
    .option('--id <sandboxId>', 'the new sandbox’s id (default: generated)')
    .option('--idempotency-key <key>', 'a repeat of the call with the same key returns the first job');
  addWaitOptions(addFleetOptions(command)).action(async (raw: Record<string, unknown>) => {
    const flags = parseFlags('create', CreateFlags, raw);
    await withClient(flags, async (client) => {
      const { template, vcpus, memory } = flags;
      const handle = await client.create(
        {
          template: parseFlags('create', z.object({ template: Identifier }), { template }).template,
          vcpus: vcpus ?? 1,
          memoryMib: memory ?? 512,
          labels: flags.label,
          ...(flags.id === undefined ? {} : { sandboxId: flags.id }),
        },
        flags.idempotencyKey === undefined ? {} : { idempotencyKey: flags.idempotencyKey },
      );
      await reportJob(handle, { wait: flags.wait, timeoutSeconds: flags.timeout, json: flags.json });
    });
  });
}
