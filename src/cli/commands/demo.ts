import type { Command } from 'commander';
import { z } from 'zod';
import { createLogger, silentLogger } from '../../logging/logger.ts';
import { intFlag, parseFlags } from './cli-options.ts';
import { addNetworkOptions, networkFromFlags } from './network-flags.ts';
import { exitSoon, untilShutdownSignal } from './shutdown-signal.ts';

const DemoFlags = z.object({
  once: z.boolean().default(false),
  port: intFlag(0, 65_535).default(3000),
  networkPrefix: z.string().optional(),
  vethRange: z.string().optional(),
  hostRange: z.string().optional(),
});

/** `hangar demo`: a fleet on this machine, a tour of every operation, then a full cleanup. */
export function registerDemo(program: Command): void {
  const command = program
    .command('demo')
    .description(
      'run a whole fleet on this machine (Redis, worker, dashboard) and tour every operation (root)',
    )
    .option('--once', 'exit when the tour is done (default: keep the dashboard up until Ctrl-C)')
    .option('--port <port>', 'dashboard port; the next free one if taken (0: any)', '3000')
    .addHelpText(
      'after',
      `
Uses REDIS_URL if set, else the Redis on 127.0.0.1:6379, else starts a private redis-server.
Everything runs on a private key prefix and temp dir, and is removed at the end (also on Ctrl-C).
HANGAR_LOG_LEVEL=info shows the worker's logs on stderr.`,
    );
  addNetworkOptions(command, { hidden: true }).action(async (raw: Record<string, unknown>) => {
    const flags = parseFlags('demo', DemoFlags, raw);
    const stop = new AbortController();
    void untilShutdownSignal().then(() => stop.abort());
    const level = process.env.HANGAR_LOG_LEVEL;
    const { runDemo } = await import('../../demo/run-demo.ts');
    const { interrupted } = await runDemo({
      once: flags.once,
      port: flags.port,
      network: networkFromFlags(flags),
      signal: stop.signal,
      print: (line) => console.log(line),
      logger: level === undefined ? silentLogger : createLogger({ level, destination: 2 }),
    });
    exitSoon(interrupted ? 130 : 0);
  });
}
