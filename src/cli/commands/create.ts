import type { Command } from 'commander';
import { z } from 'zod';
import { NotFoundError } from '../../errors/index.ts';
import { Identifier } from '../../validation/identifiers.ts';
import { addFleetOptions, collect, FleetFlags, intFlag, LabelFlags, parseFlags } from './cli-options.ts';
import { withClient } from './client.ts';
import { addWaitOptions, reportJob, WaitFlags } from './job-output.ts';

const CreateFlags = FleetFlags.extend({
  template: Identifier.optional(),
  vcpus: intFlag(1, 32).optional(),
  memory: intFlag(128, 65_536).optional(),
  label: LabelFlags,
  fromSnapshot: Identifier.optional(),
  id: Identifier.optional(),
  idempotencyKey: z.string().min(1).max(200).optional(),
  ...WaitFlags,
});

/** `hangar create`: a new sandbox from a template (or from a snapshot) on the host with most room. */
export function registerCreate(program: Command): void {
  const command = program
    .command('create')
    .description('create a sandbox from a template (or a snapshot) on the live host with the most room')
    .option('--template <id>', 'template to boot (required unless --from-snapshot)')
    .option('--vcpus <n>', 'virtual CPUs (default: 1, or the snapshot’s)')
    .option('--memory <mib>', 'guest memory in MiB (default: 512, or the snapshot’s)')
    .option('--label <key=value>', 'a label to select the sandbox by later (repeatable)', collect)
    .option('--from-snapshot <snapshotId>', 'start from this snapshot (on the host that holds it)')
    .option('--id <sandboxId>', 'the new sandbox’s id (default: generated)')
    .option('--idempotency-key <key>', 'a repeat of the call with the same key returns the first job');
  addWaitOptions(addFleetOptions(command)).action(async (raw: Record<string, unknown>) => {
    const flags = parseFlags('create', CreateFlags, raw);
    await withClient(flags, async (client) => {
      let { template, vcpus, memory } = flags;
      if (flags.fromSnapshot !== undefined) {
        const snapshot = await client.store.getSnapshot(flags.fromSnapshot);
        if (snapshot === undefined) throw new NotFoundError(`no snapshot ${flags.fromSnapshot}`);
        template ??= snapshot.template;
        vcpus ??= snapshot.vcpus;
        memory ??= snapshot.memoryMib;
      }
      const handle = await client.create(
        {
          template: parseFlags('create', z.object({ template: Identifier }), { template }).template,
          vcpus: vcpus ?? 1,
          memoryMib: memory ?? 512,
          labels: flags.label,
          ...(flags.id === undefined ? {} : { sandboxId: flags.id }),
          ...(flags.fromSnapshot === undefined ? {} : { fromSnapshot: flags.fromSnapshot }),
        },
        flags.idempotencyKey === undefined ? {} : { idempotencyKey: flags.idempotencyKey },
      );
      await reportJob(handle, { wait: flags.wait, timeoutSeconds: flags.timeout, json: flags.json });
    });
  });
}
