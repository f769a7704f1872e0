import type { Command } from 'commander';
import { z } from 'zod';
import { SandboxState } from '../../events/event-schemas.ts';
import type { HangarClient } from '../../producer/hangar-client.ts';
import { Identifier } from '../../validation/identifiers.ts';
import { addFleetOptions, collect, FleetFlags, LabelFlags, parseFlags } from './cli-options.ts';
import { withClient } from './client.ts';
import { formatAge, formatTable, printJson } from './output.ts';

const LsFlags = FleetFlags.extend({
  host: Identifier.optional(),
  state: SandboxState.optional(),
  label: LabelFlags,
  all: z.boolean().default(false),
  pool: z.boolean().default(false),
});

/** `hangar ls`: the fleet's sandboxes as a table (or JSON), filtered by host, state and labels. */
export function registerLs(program: Command): void {
  const command = program
    .command('ls')
    .description('list sandboxes: id, host, state, address, template, age')
    .option('--host <hostId>', 'only sandboxes on this host')
    .option('--state <state>', `only sandboxes in this state (${SandboxState.options.join(', ')})`)
    .option('--label <key=value>', 'only sandboxes with this label (repeatable; all must match)', collect)
    .option('-a, --all', 'include destroyed and failed sandboxes whose records are still kept')
    .option('--pool', "list each live host's VM pool instead: VMs ready and warming per template");
  addFleetOptions(command).action(async (raw: Record<string, unknown>) => {
    const flags = parseFlags('ls', LsFlags, raw);
    await withClient(flags, async (client) => {
      if (flags.pool) {
        await printPools(client, flags.host, flags.json);
        return;
      }
      const query = {
        ...(flags.host === undefined ? {} : { hostId: flags.host }),
        ...(flags.state === undefined ? {} : { state: flags.state }),
        labels: flags.label,
      };
      // Destroyed and failed sandboxes leave the live indexes; their records are kept a while.
      const gone = flags.state === 'destroyed' || flags.state === 'failed';
      const records = [
        ...(gone ? [] : await client.list(query)),
        ...(gone || flags.all ? await client.listGone(query) : []),
      ];
      if (flags.json) {
        printJson(records);
        return;
      }
      if (records.length === 0) {
        console.log('no sandboxes');
        return;
      }
      const now = Date.now();
      console.log(
        formatTable(
          ['id', 'host', 'state', 'address', 'template', 'age'],
          records.map((r) => [
            r.sandboxId,
            r.hostId,
            r.state,
            r.address ?? '-',
            r.template,
            formatAge(r.createdAt, now),
          ]),
        ),
      );
    });
  });
}

/** `hangar ls --pool`: each live host's VM pool, a line per template. */
async function printPools(client: HangarClient, hostId: string | undefined, json: boolean): Promise<void> {
  const hosts = (await client.hosts()).filter((host) => hostId === undefined || host.hostId === hostId);
  const rows = hosts.flatMap((host) =>
    Object.entries(host.pool).map(([template, pool]) => ({ hostId: host.hostId, template, ...pool })),
  );
  if (json) {
    printJson(rows);
    return;
  }
  if (rows.length === 0) {
    console.log('no VM pool on any live host');
    return;
  }
  console.log(
    formatTable(
      ['host', 'template', 'ready', 'warming', 'target', 'shape'],
      rows.map((r) => [
        r.hostId,
        r.template,
        String(r.ready),
        String(r.warming),
        String(r.target),
        `${r.vcpus} vCPU / ${r.memoryMib} MiB`,
      ]),
    ),
  );
}
