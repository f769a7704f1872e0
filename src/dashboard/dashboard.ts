import { createServer } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';
import { KeySpace } from '../queues/names.ts';
import { connectRedis, whenReady } from '../redis/connections.ts';
import type { RedisTls } from '../redis/redis-tls.ts';
import { FleetStore } from '../state/fleet-store.ts';
import { BasicAuthCredentials, basicAuth } from './basic-auth.ts';
import { assertNotExposed } from './exposure.ts';
import { FleetMetrics } from './fleet-metrics.ts';
import { fleetRoutes } from './fleet-routes.ts';
import { fleetSummary } from './fleet-summary.ts';
import { FLEET_PATH } from './layout.ts';
import { closeServer, listen, urlOf } from './listen.ts';
import { QueueRegistry } from './queue-registry.ts';
import { refuseActions } from './read-only.ts';

/** Where Bull Board is mounted. */
export const BOARD_PATH = '/admin/queues';

/** How the dashboard runs; every field but redisUrl has a default. */
export const DashboardOptions = z
  .object({
    redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
    keyPrefix: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,40}$/, 'must be 1-41 chars of a-z, 0-9, _ -')
      .default('hangar'),
    port: z.number().int().min(0).max(65_535).default(3000),
    /** Anything but loopback (127.0.0.0/8, ::1, localhost) needs basicAuth. */
    host: z.string().min(1).default('127.0.0.1'),
    /**
     * Let Bull Board add, retry, promote, clean, pause and remove jobs. Off by default: the
     * workers run jobs as root, so an action here is code run on the hosts.
     */
    allowActions: z.boolean().default(false),
    basicAuth: BasicAuthCredentials.optional(),
    /** How often new hosts' queues are looked for (ms). */
    refreshMs: z.number().int().min(100).max(600_000).default(3_000),
  })
  .strict();
export type DashboardOptionsInput = z.input<typeof DashboardOptions>;

/** A running dashboard. */
export interface Dashboard {
  /** Base URL; Bull Board is at `${url}/admin/queues`, the fleet page at `${url}/fleet`. */
  url: string;
  port: number;
  /** Whether actions are refused (allowActions was not given). */
  readOnly: boolean;
  /** Stops the refresh, the HTTP server (the port is free on return) and the Redis connection. */
  close(): Promise<void>;
}

/**
 * Serves Bull Board over every host queue and the batch queue, the fleet pages beside it
 * (`/fleet`: hosts, sandboxes, one sandbox's jobs and events, live events), `/healthz`, a
 * small JSON `/api/fleet` and the fleet's Prometheus metrics on `/metrics`. Optional basic
 * auth guards everything but `/healthz` (metrics included: Prometheus scrapes with basic_auth); without
 * allowActions every request but GET and HEAD is refused (403). Throws DashboardExposedError
 * for a non-loopback host without basicAuth.
 */
export async function startDashboard(
  input: DashboardOptionsInput & { logger?: Logger; redisTls?: RedisTls },
): Promise<Dashboard> {
  const { logger, redisTls, ...rest } = input;
  const parsed = DashboardOptions.safeParse(rest);
  if (!parsed.success) throw ValidationError.fromZod('dashboard options', parsed.error);
  const options = parsed.data;
  assertNotExposed(options.host, options.basicAuth);
  const readOnly = !options.allowActions;
  const log = (logger ?? silentLogger).child({ component: 'dashboard' });

  const redis = await whenReady(
    connectRedis(options.redisUrl, 'producer', redisTls === undefined ? {} : { tls: redisTls }),
  );
  redis.on('error', (error) => log.warn({ err: error }, 'dashboard redis error'));
  const keys = new KeySpace(options.keyPrefix);
  const store = new FleetStore(redis, keys);
  const serverAdapter = new ExpressAdapter().setBasePath(BOARD_PATH);
  const board = createBullBoard({
    queues: [],
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: `hangar (${options.keyPrefix})`,
        miscLinks: [{ text: 'Fleet', url: FLEET_PATH }],
      },
    },
  });
  const registry = new QueueRegistry({
    board,
    store,
    connection: redis,
    keyPrefix: options.keyPrefix,
    readOnly,
    logger: log,
  });
  const fleet = fleetRoutes(
    { store, redis, keys, boardPath: BOARD_PATH },
    { redisUrl: options.redisUrl, logger: log },
  );

  const app = express();
  app.disable('x-powered-by');
  // First, ahead of auth and routing: Bull Board's readOnlyMode hides the buttons, this
  // makes sure a hand-made request cannot act either.
  if (readOnly) app.use(refuseActions());
  app.get('/healthz', (_request, response) => {
    response.type('text/plain').send('ok\n');
  });
  if (options.basicAuth !== undefined) app.use(basicAuth(options.basicAuth));
  app.get('/api/fleet', async (_request, response) => {
    response.json(await fleetSummary(store, registry.names()));
  });
  app.use(fleet.router);
  const metrics = new FleetMetrics(store, registry);
  app.get('/metrics', async (_request, response) => {
    response.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(BOARD_PATH, serverAdapter.getRouter());
  app.get('/', (_request, response) => response.redirect(BOARD_PATH));

  const server = createServer(app);
  let timer: NodeJS.Timeout | undefined;
  try {
    await registry.refresh();
    const address = await listen(server, options.host, options.port);
    timer = setInterval(() => {
      registry.refresh().catch((error: unknown) => log.warn({ err: error }, 'queue refresh failed'));
    }, options.refreshMs);
    const url = urlOf(address);
    log.info({ url: `${url}${BOARD_PATH}`, readOnly }, 'dashboard listening');
    return {
      url,
      port: address.port,
      readOnly,
      async close() {
        clearInterval(timer);
        await fleet.close();
        await closeServer(server).catch(() => undefined);
        await registry.close();
        redis.disconnect();
      },
    };
  } catch (error) {
    clearInterval(timer);
    await fleet.close();
    await registry.close();
    redis.disconnect();
    throw error;
  }
}
