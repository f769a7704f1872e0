import { Cluster, type ClusterNode, Redis, type RedisOptions } from 'ioredis';
import { ValidationError } from '../errors/index.ts';
import { redact } from './redact.ts';
import type { RedisTls } from './redis-tls.ts';

export { redact } from './redact.ts';

/** A connection to one Redis or to a Redis Cluster; hangar's code takes either. */
export type RedisClient = Redis | Cluster;

/**
 * Redis connections by role, with the settings BullMQ needs: workers and blocking readers
 * wait out a Redis outage (maxRetriesPerRequest null); producers fail fast instead of
 * queueing commands while Redis is gone (enableOfflineQueue false).
 */
export type RedisRole = 'worker' | 'producer' | 'blocking';

/** Where to connect: one server, or a cluster's seed nodes. */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: ClusterNode[]; tls: boolean; username?: string; password?: string };

/**
 * Reads a Redis URL. One server: `redis://[user:password@]host:port[/db]`. A Redis Cluster:
 * several seed nodes separated by commas, `redis://host1:port1,host2:port2,...`, or one
 * seed with the `redis+cluster://` scheme; the client finds the other masters itself.
 * `rediss` in place of `redis` is the same over TLS.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const match = /^(rediss?)(\+cluster)?:\/\/(?:([^@/]*)@)?([^/?#]+)(\/[^?#]*)?$/.exec(url);
  if (match === null) {
    throw new ValidationError(`redis url '${redact(url)}' is not redis://host:port or redis://h1:p1,h2:p2`, {
      field: 'redisUrl',
    });
  }
  const [, scheme, cluster, auth, hosts, path] = match;
  const seeds = hosts!.split(',');
  if (cluster === undefined && seeds.length === 1) return { kind: 'single', url };
  if (path !== undefined && path !== '' && path !== '/' && path !== '/0') {
    throw new ValidationError('a Redis Cluster has only database 0: drop the /db from the url', {
      field: 'redisUrl',
    });
  }
  const nodes = seeds.map((seed) => {
    const at = seed.includes('@') ? null : /^\[?([^\]]+?)\]?:(\d+)$/.exec(seed);
    if (at === null) {
      // A seed holding '@' is the tail of a password with an unencoded '@': never quote it.
      const problem = seed.includes('@')
        ? "its password holds an unencoded '@' (write it as %40)"
        : `cluster seed '${seed}' is not host:port`;
      throw new ValidationError(`redis url '${redact(url)}': ${problem}`, { field: 'redisUrl' });
    }
    return { host: at[1]!, port: Number(at[2]) };
  });
  const [username, password] = auth === undefined ? [] : auth.split(':').map(decodeURIComponent);
  return {
    kind: 'cluster',
    nodes,
    tls: scheme === 'rediss',
    ...(username ? { username } : {}),
    ...(password === undefined ? {} : { password }),
  };
}

/** Whether a URL names a Redis Cluster. */
export function isClusterUrl(url: string): boolean {
  return parseRedisUrl(url).kind === 'cluster';
}

/** How to connect besides the URL: TLS material for a rediss:// server that needs more than Node's roots. */
export interface RedisConnectOptions {
  tls?: RedisTls;
}

/**
 * Opens a connection for `role` to `url` (see parseRedisUrl for the forms). TLS material
 * (a CA, a client certificate and key) needs a rediss:// URL: with redis:// it would be
 * ignored by the URL's scheme or silently turn TLS on, and either surprises someone.
 */
export function connectRedis(url: string, role: RedisRole, options: RedisConnectOptions = {}): RedisClient {
  const target = parseRedisUrl(url);
  const tls = tlsOptions(url, options.tls);
  const base: RedisOptions = { lazyConnect: false, connectionName: `hangar-${role}` };
  const perRole: RedisOptions =
    role === 'producer'
      ? { maxRetriesPerRequest: 3, enableOfflineQueue: false }
      : { maxRetriesPerRequest: null };
  try {
    if (target.kind === 'single') return new Redis(url, { ...base, ...perRole, ...(tls ? { tls } : {}) });
  } catch {
    // ioredis parses the URL with WHATWG URL, whose error carries the whole URL as `input`.
    throw new ValidationError(`redis url '${redact(url)}' does not parse`, { field: 'redisUrl' });
  }
  return new Cluster(target.nodes, {
    redisOptions: {
      ...base,
      ...perRole,
      ...(target.username === undefined ? {} : { username: target.username }),
      ...(target.password === undefined ? {} : { password: target.password }),
      ...(target.tls ? { tls: tls ?? {} } : {}),
    },
    // A producer fails fast; everyone else waits for the cluster to come back.
    enableOfflineQueue: role !== 'producer',
  });
}

/** ioredis's `tls` for a connection: the material given, checked against the URL's scheme. */
export function tlsOptions(url: string, tls: RedisTls | undefined): RedisTls | undefined {
  if (tls === undefined || Object.keys(tls).length === 0) return undefined;
  if (!/^rediss(\+cluster)?:\/\//.test(url)) {
    throw new ValidationError(
      `Redis TLS files were given but the url '${redact(url)}' is not rediss://: use rediss:// for TLS`,
      { field: 'redisUrl' },
    );
  }
  return tls;
}

/** Waits until a connection is ready (producers start with the offline queue off). */
export async function whenReady<T extends RedisClient>(redis: T): Promise<T> {
  if (redis.status === 'ready') return redis;
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      redis.off('error', onError);
      resolve();
    };
    const onError = (error: Error) => {
      redis.off('ready', onReady);
      reject(error);
    };
    redis.once('ready', onReady);
    redis.once('error', onError);
  });
  return redis;
}

/** The masters a connection writes to: the one server, or every master of a cluster. */
export function mastersOf(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}
