import { type Command, Option } from 'commander';
import { z } from 'zod';
import { parseBasicAuth } from '../../dashboard/basic-auth.ts';
import { createLogger } from '../../logging/logger.ts';
import { addFleetOptions, FleetFlags, intFlag, parseFlags } from './cli-options.ts';
import { pingRedis } from './redis-ping.ts';
import { exitSoon, untilShutdownSignal } from './shutdown-signal.ts';

const DashboardFlags = FleetFlags.extend({
  port: intFlag(0, 65_535).default(3000),
  host: z.string().min(1).default('127.0.0.1'),
  readOnly: z.boolean().default(false),
  // An empty HANGAR_DASHBOARD_AUTH (compose's `${VAR:-}`) means no auth.
  basicAuth: z
    .string()
    .optional()
    .transform((text) =>
      text === undefined || text === '' ? undefined : parseBasicAuth(text, '--basic-auth'),
    ),
});

/** `hangar dashboard`: Bull Board over every host's queue and the batch queue. */
export function registerDashboard(program: Command): void {
  const command = program
    .command('dashboard')
    .description(
      'serve Bull Board over every host queue and the batch queue (http://127.0.0.1:3000/admin/queues)',
    )
    .option('--port <port>', 'port to listen on', '3000')
    .option('--host <address>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--read-only', 'show jobs, allow no retry, clean, pause or remove')
    .addOption(
      new Option('--basic-auth <user:password>', 'ask for these credentials').env('HANGAR_DASHBOARD_AUTH'),
    );
  addFleetOptions(command).action(async (raw: Record<string, unknown>) => {
    const flags = parseFlags('dashboard', DashboardFlags, raw);
    await pingRedis(flags.redis);
    // Loaded here, not at startup: express and Bull Board are only needed by this command.
    const { BOARD_PATH, startDashboard } = await import('../../dashboard/dashboard.ts');
    const dashboard = await startDashboard({
      redisUrl: flags.redis,
      keyPrefix: flags.prefix,
      port: flags.port,
      host: flags.host,
      readOnly: flags.readOnly,
      ...(flags.basicAuth === undefined ? {} : { basicAuth: flags.basicAuth }),
      logger: createLogger({ destination: 2 }),
    });
    if (flags.json)
      console.log(JSON.stringify({ url: `${dashboard.url}${BOARD_PATH}`, port: dashboard.port }));
    else
      console.log(
        `dashboard: ${dashboard.url}${BOARD_PATH}${flags.readOnly ? ' (read-only)' : ''}${flags.basicAuth ? ' (basic auth)' : ''}`,
      );
    await untilShutdownSignal();
    await dashboard.close();
    exitSoon(0);
  });
}
