import { type Command, Option } from 'commander';
import { z } from 'zod';
import { parseBasicAuth } from '../../dashboard/basic-auth.ts';
import { assertNotExposed } from '../../dashboard/exposure.ts';
import { createLogger } from '../../logging/logger.ts';
import { readRedisTls } from '../../redis/redis-tls.ts';
import { addFleetOptions, FleetFlags, intFlag, parseFlags, redisTlsFromFlags } from './cli-options.ts';
import { pingRedis } from './redis-ping.ts';
import { exitSoon, untilShutdownSignal } from './shutdown-signal.ts';

const DashboardFlags = FleetFlags.extend({
  port: intFlag(0, 65_535).default(3000),
  host: z.string().min(1).default('127.0.0.1'),
  allowActions: z.boolean().default(false),
  // The old opt-in, now the default; still accepted so existing scripts keep working.
  readOnly: z.boolean().default(false),
  // An empty HANGAR_DASHBOARD_AUTH means none (then only a loopback --host is accepted).
  basicAuth: z
    .string()
    .optional()
    .transform((text) =>
      text === undefined || text === '' ? undefined : parseBasicAuth(text, '--basic-auth'),
    ),
});

/** `hangar dashboard`: Bull Board over every host's queue and the batch queue, and the fleet page. */
export function registerDashboard(program: Command): void {
  const command = program
    .command('dashboard')
    .description(
      'serve Bull Board over every host queue and the batch queue (http://127.0.0.1:3000/admin/queues) and the fleet page (/fleet), read-only unless --allow-actions',
    )
    .option('--port <port>', 'port to listen on', '3000')
    .option(
      '--host <address>',
      'address to listen on; anything but loopback (e.g. 0.0.0.0) needs --basic-auth',
      '127.0.0.1',
    )
    .addOption(
      new Option(
        '--allow-actions',
        'let the dashboard add, retry, promote, clean, pause and remove jobs (default: read-only)',
      ).conflicts('readOnly'),
    )
    .addOption(new Option('--read-only').hideHelp())
    .addOption(
      new Option('--basic-auth <user:password>', 'ask for these credentials').env('HANGAR_DASHBOARD_AUTH'),
    );
  addFleetOptions(command, { jobKey: false }).action(async (raw: Record<string, unknown>) => {
    const flags = parseFlags('dashboard', DashboardFlags, raw);
    // Before Redis: an exposed dashboard is a setup mistake, whatever state Redis is in.
    assertNotExposed(flags.host, flags.basicAuth);
    const redisTls = await readRedisTls(redisTlsFromFlags(flags));
    await pingRedis(flags.redis, undefined, redisTls);
    // Loaded here, not at startup: express and Bull Board are only needed by this command.
    const { BOARD_PATH, FLEET_PATH, startDashboard } = await import('../../dashboard/index.ts');
    const dashboard = await startDashboard({
      redisUrl: flags.redis,
      keyPrefix: flags.prefix,
      port: flags.port,
      host: flags.host,
      allowActions: flags.allowActions,
      ...(redisTls === undefined ? {} : { redisTls }),
      ...(flags.basicAuth === undefined ? {} : { basicAuth: flags.basicAuth }),
      logger: createLogger({ destination: 2 }),
    });
    if (flags.json)
      console.log(
        JSON.stringify({
          url: `${dashboard.url}${BOARD_PATH}`,
          fleetUrl: `${dashboard.url}${FLEET_PATH}`,
          port: dashboard.port,
          readOnly: dashboard.readOnly,
        }),
      );
    else
      console.log(
        `dashboard: ${dashboard.url}${BOARD_PATH}, fleet page ${dashboard.url}${FLEET_PATH}${dashboard.readOnly ? ' (read-only)' : ' (actions allowed)'}${flags.basicAuth ? ' (basic auth)' : ''}`,
      );
    await untilShutdownSignal();
    await dashboard.close();
    exitSoon(0);
  });
}
