import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOARD_PATH, FLEET_PATH } from '../dashboard/index.ts';
import { IllegalStateError } from '../errors/index.ts';
import type { Logger } from '../logging/logger.ts';
import { redact } from '../redis/redact.ts';
import { writeDemoTemplate } from '../templates/demo-template.ts';
import { deletePrefixKeys } from './delete-keys.ts';
import { cleanupHost, type DemoFleet, startDemoFleet } from './demo-fleet.ts';
import { type DemoRedis, demoRedis } from './demo-redis.ts';
import { type EventPrinter, startEventPrinter } from './event-printer.ts';
import { destroyDemoSandboxes, runTour } from './tour.ts';

/** How `hangar demo` runs. */
export interface DemoOptions {
  /** Exit when the tour is done; otherwise keep the dashboard up until `signal` aborts. */
  once: boolean;
  /** Dashboard port (the next free one when taken; 0: any). */
  port: number;
  /** Network config of the worker (default prefix `hangar`, default ranges). */
  network: Record<string, unknown>;
  /** Aborted on Ctrl-C / SIGTERM: the tour stops and everything is cleaned up. */
  signal: AbortSignal;
  print: (line: string) => void;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}

const REDIS_SOURCES: Record<DemoRedis['source'], string> = {
  env: 'from REDIS_URL',
  local: 'the local Redis, it answered PING',
  private: 'a private redis-server started for this run, stopped at the end',
};

/**
 * `hangar demo`: a whole fleet on this machine (Redis, one in-process worker, the dashboard)
 * on a private key prefix and state dir, a tour of every operation with events printed as
 * they arrive, then a full cleanup: sandboxes, worker, namespaces, nft table, keys, Redis, files.
 */
export async function runDemo(options: DemoOptions): Promise<{ interrupted: boolean }> {
  const { print } = options;
  if (process.getuid?.() !== 0) {
    throw new IllegalStateError(
      'hangar demo needs root: each sandbox gets its own network namespace, veth pair, TAP device and nftables rules (run it with sudo)',
    );
  }
  const redis = await demoRedis(options.env === undefined ? {} : { env: options.env });
  print(`Redis: ${redact(redis.url)} (${REDIS_SOURCES[redis.source]})`);
  const keyPrefix = `hangar-demo-${randomBytes(4).toString('hex')}`;
  const stateDir = await mkdtemp(join(tmpdir(), 'hangar-demo-'));
  print(`Key prefix: ${keyPrefix}   state dir: ${stateDir}`);
  let fleet: DemoFleet | undefined;
  let printer: EventPrinter | undefined;
  try {
    const templates = await writeDemoTemplate(join(stateDir, 'template'));
    fleet = await startDemoFleet({
      redisUrl: redis.url,
      keyPrefix,
      stateDir: join(stateDir, 'host'),
      templates,
      network: options.network,
      port: options.port,
      logger: options.logger,
    });
    const { worker, client, dashboard } = fleet;
    print(`VMM: ${worker.ctx.backend.info.description}`);
    print(`Network: prefix ${worker.ctx.network.prefix}, sandboxes on ${worker.ctx.network.hostRange}`);
    print(
      `Dashboard: ${dashboard.url}${BOARD_PATH}   (fleet page: ${dashboard.url}${FLEET_PATH}, JSON: ${dashboard.url}/api/fleet)`,
    );
    printer = await startEventPrinter(client, print);
    const started = performance.now();
    try {
      await runTour(client, print, options.signal);
    } catch (error) {
      // Ctrl-C between steps ends the tour; anything else is a real failure.
      if (!options.signal.aborted) throw error;
      return { interrupted: true };
    }
    await printer.catchUp().catch(() => undefined);
    print(`Tour done in ${(performance.now() - started).toFixed(0)} ms, ${printer.count()} events.`);
    if (!options.once && !options.signal.aborted) {
      print(
        `The dashboard stays up at ${dashboard.url}${BOARD_PATH} and ${dashboard.url}${FLEET_PATH}: press Ctrl-C to clean up and exit.`,
      );
      await new Promise((resolve) => options.signal.addEventListener('abort', resolve, { once: true }));
    }
    return { interrupted: false };
  } finally {
    print(options.signal.aborted ? 'Interrupted: cleaning up...' : 'Cleaning up...');
    await printer?.stop();
    const problems = await cleanup(fleet, redis, keyPrefix, stateDir, print);
    if (problems.length > 0) for (const problem of problems) print(`  cleanup problem: ${problem}`);
    else print('Clean: no sandboxes, namespaces, nft table, Redis keys or files left behind.');
  }
}

async function cleanup(
  fleet: DemoFleet | undefined,
  redis: DemoRedis,
  keyPrefix: string,
  stateDir: string,
  print: (line: string) => void,
): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async <T>(what: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await run();
    } catch (error) {
      problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  };
  if (fleet !== undefined) {
    const left = await attempt('destroy sandboxes', () => destroyDemoSandboxes(fleet.client));
    if (left !== undefined && left > 0) print(`  destroyed ${left} sandbox(es) left running`);
    await attempt('close the dashboard', () => fleet.dashboard.close());
    await attempt('close the client', () => fleet.client.close());
    await attempt('stop the worker', () => fleet.worker.stop());
    problems.push(...(await cleanupHost(fleet.worker)));
  }
  const keys = await attempt('delete Redis keys', () => deletePrefixKeys(redis.url, keyPrefix));
  if (keys !== undefined) print(`  deleted ${keys} Redis keys under ${keyPrefix}`);
  if (redis.source === 'private') {
    await attempt('stop the private redis-server', () => redis.stop());
    print('  stopped the private redis-server');
  }
  await attempt('remove the state dir', () => rm(stateDir, { recursive: true, force: true }));
  return problems;
}
