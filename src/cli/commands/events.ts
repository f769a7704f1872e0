import type { Command } from 'commander';
import { z } from 'zod';
import { Identifier } from '../../validation/identifiers.ts';
import { addFleetOptions, FleetFlags, parseFlags } from './cli-options.ts';
import { withClient } from './client.ts';
import { formatEventLine } from './event-line.ts';

const EventsFlags = FleetFlags.extend({
  follow: z.boolean().default(false),
  after: z
    .string()
    .regex(
      /^(\d+(-\d+)?|\$)$/,
      'must be a stream position such as 1764000000000-0 (printed first on each line)',
    )
    .optional(),
  sandbox: Identifier.optional(),
});

/** `hangar events`: the fleet's event stream, one line per event, each starting with its position. */
export function registerEvents(program: Command): void {
  const command = program
    .command('events')
    .description('print fleet events, one per line starting with its position (resume with --after)')
    .option('-f, --follow', 'keep printing new events until Ctrl-C')
    .option(
      '--after <position>',
      'start after this position (default: from the oldest kept; with --follow: from now)',
    )
    .option('--sandbox <id>', 'only events of this sandbox');
  addFleetOptions(command).action(async (raw: Record<string, unknown>) => {
    const flags = parseFlags('events', EventsFlags, raw);
    await withClient(flags, async (client) => {
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
      try {
        // Without --follow, read up to the newest event there is now, then stop.
        const end = flags.follow ? undefined : await client.latestEventPosition();
        const after = flags.after ?? (flags.follow ? '$' : '0');
        if (end !== undefined && (end === '0-0' || after === '$' || comparePositions(after, end) >= 0))
          return;
        for await (const positioned of client.events({ after, signal: stop.signal, blockMs: 500 })) {
          const wanted =
            flags.sandbox === undefined ||
            ('sandboxId' in positioned.event && positioned.event.sandboxId === flags.sandbox);
          if (wanted) console.log(flags.json ? JSON.stringify(positioned) : formatEventLine(positioned));
          if (end !== undefined && comparePositions(positioned.position, end) >= 0) break;
        }
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
    });
  });
}

/** Orders two stream positions (`<ms>-<seq>`). */
export function comparePositions(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}
