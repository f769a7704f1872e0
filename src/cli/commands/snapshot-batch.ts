import type { Command } from 'commander';
import { z } from 'zod';
import { ValidationError } from '../../errors/index.ts';
import { Identifier } from '../../validation/identifiers.ts';
import { addFleetOptions, collect, FleetFlags, intFlag, LabelFlags, parseFlags } from './cli-options.ts';
import { withClient } from './client.ts';
import { printJson } from './output.ts';

const BatchFlags = FleetFlags.extend({
  '[ids...]': z.array(Identifier),
  label: LabelFlags,
  concurrencyPerHost: intFlag(1, 64).default(2),
  failFast: z.boolean().default(false),
  resume: z.boolean().default(true),
  timeout: intFlag(1, 86_400).default(600),
});

/** `hangar snapshot-batch`: snapshot many sandboxes as one flow, with a progress bar and a result table. */
export function registerSnapshotBatch(program: Command): void {
  const command = program
    .command('snapshot-batch')
    .argument('[ids...]', 'sandboxes to snapshot (or select them with --label)')
    .description('snapshot many sandboxes at once (by id or by label), with progress and a table of results')
    .option('--label <key=value>', 'select running or paused sandboxes with this label (repeatable)', collect)
    .option('--concurrency-per-host <n>', 'snapshots of this batch running at once on one host', '2')
    .option('--fail-fast', 'fail the whole batch as soon as one snapshot fails')
    .option('--no-resume', 'leave the sandboxes paused after their snapshots')
    .option('--timeout <seconds>', 'how long to wait for the batch', '600');
  addFleetOptions(command).action(async (ids: string[], raw: Record<string, unknown>) => {
    const flags = parseFlags('snapshot-batch', BatchFlags, { ...raw, '[ids...]': ids });
    const byLabel = Object.keys(flags.label).length > 0;
    if (byLabel === flags['[ids...]'].length > 0) {
      throw new ValidationError(
        'snapshot-batch needs either sandbox ids or --label selectors (one of the two)',
      );
    }
    const { formatBatchResult, runSnapshotBatch } = await import('./batch-progress.ts');
    await withClient(flags, async (client) => {
      const result = await runSnapshotBatch(
        client,
        byLabel ? { labels: flags.label } : flags['[ids...]'],
        { concurrencyPerHost: flags.concurrencyPerHost, failFast: flags.failFast, resumeAfter: flags.resume },
        {
          print: (line) => (flags.json ? undefined : console.log(line)),
          bar: !flags.json && process.stderr.isTTY === true,
        },
        flags.timeout * 1000,
      );
      if (flags.json) printJson(result);
      else console.log(formatBatchResult(result));
      if (result.failures.length > 0) process.exitCode = 1;
    });
  });
}
