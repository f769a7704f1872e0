import type { Command } from 'commander';
import { NotFoundError } from '../../errors/index.ts';
import { Identifier } from '../../validation/identifiers.ts';
import { addFleetOptions, FleetFlags, parseFlags } from './cli-options.ts';
import { withClient } from './client.ts';
import { printJson } from './output.ts';

const InspectFlags = FleetFlags.extend({ '<id>': Identifier });

/** `hangar inspect <id>`: a sandbox's record (or, failing that, a snapshot's) as JSON. */
export function registerInspect(program: Command): void {
  const command = program
    .command('inspect')
    .argument('<id>', 'a sandbox id (or a snapshot id)')
    .description('print the record of a sandbox (or a snapshot) as JSON');
  addFleetOptions(command).action(async (id: string, raw: Record<string, unknown>) => {
    const flags = parseFlags('inspect', InspectFlags, { ...raw, '<id>': id });
    await withClient(flags, async (client) => {
      const record = (await client.get(id)) ?? (await client.getSnapshot(id));
      if (record === undefined) throw new NotFoundError(`no sandbox or snapshot ${id}`, { id });
      printJson(record);
    });
  });
}
