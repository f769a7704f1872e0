import { hostname } from 'node:os';
import { parseWorkerConfig, type WorkerConfig, type WorkerConfigInput } from './worker-config.ts';

/** Where the fleet's Redis is when nothing says otherwise. */
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** What a worker is configured from, lowest first: its defaults, a config file, the environment, flags. */
export interface WorkerConfigSources {
  /** From `--config <file>` (readWorkerConfigFile). */
  file?: Partial<WorkerConfigInput>;
  /** Default: process.env (see workerEnvSettings). */
  env?: NodeJS.ProcessEnv;
  /** What was given on the command line (or by a flag's own environment variable). */
  flags?: Partial<WorkerConfigInput>;
}

/**
 * The worker's config from its sources: flags over environment over config file over
 * defaults. Objects (capacity, network, redisTls) merge field by field, so a flag that sets
 * one network field keeps the file's others. Validated once, after merging.
 */
export function resolveWorkerConfig(sources: WorkerConfigSources): WorkerConfig {
  const defaults: Partial<WorkerConfigInput> = {
    hostId: defaultHostId(),
    redisUrl: DEFAULT_REDIS_URL,
    capacity: { vcpus: 64, memoryMib: 131_072 },
  };
  const merged = [sources.file, workerEnvSettings(sources.env ?? process.env), sources.flags].reduce<
    Record<string, unknown>
  >((into, layer) => mergeLayer(into, layer ?? {}), { ...defaults });
  return parseWorkerConfig(merged);
}

/** The config fields the environment sets (HANGAR_*, REDIS_URL), only those that are set. */
export function workerEnvSettings(env: NodeJS.ProcessEnv): Partial<WorkerConfigInput> {
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  const entries: Record<string, unknown> = {
    hostId: env.HANGAR_HOST_ID,
    redisUrl: env.REDIS_URL,
    keyPrefix: env.HANGAR_KEY_PREFIX,
    stateDir: env.HANGAR_STATE_DIR,
    concurrency: number(env.HANGAR_CONCURRENCY),
    vmm: env.HANGAR_VMM,
    disk: env.HANGAR_DISK,
    poolSize: number(env.HANGAR_POOL_SIZE),
    templatesFile: env.HANGAR_TEMPLATES,
    diskReserveMib: number(env.HANGAR_DISK_RESERVE_MIB),
    capacity: defined({ vcpus: number(env.HANGAR_VCPUS), memoryMib: number(env.HANGAR_MEMORY_MIB) }),
    redisTls: defined({
      ca: env.HANGAR_REDIS_TLS_CA,
      cert: env.HANGAR_REDIS_TLS_CERT,
      key: env.HANGAR_REDIS_TLS_KEY,
    }),
    transfer: defined({
      port: number(env.HANGAR_TRANSFER_PORT),
      listen: env.HANGAR_TRANSFER_LISTEN,
      advertiseUrl: env.HANGAR_TRANSFER_URL,
    }),
    network: defined({
      prefix: env.HANGAR_NETWORK_PREFIX,
      vethRange: env.HANGAR_VETH_RANGE,
      hostRange: env.HANGAR_HOST_RANGE,
    }),
  };
  return defined(entries) as Partial<WorkerConfigInput>;
}

/**
 * Config fields from the environment (HANGAR_*, REDIS_URL), with the host id and Redis URL
 * defaulted, for an app that embeds a worker; flags and a config file are the CLI's
 * (resolveWorkerConfig).
 */
export function workerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<WorkerConfigInput> {
  const set = workerEnvSettings(env);
  // HANGAR_VCPUS or HANGAR_MEMORY_MIB alone: the other keeps its default (the schema takes whole objects).
  const capacity = set.capacity as { vcpus?: number; memoryMib?: number } | undefined;
  return {
    hostId: defaultHostId(),
    redisUrl: DEFAULT_REDIS_URL,
    ...set,
    ...(capacity === undefined ? {} : { capacity: { vcpus: 64, memoryMib: 131_072, ...capacity } }),
  };
}

/** This machine's host name as a host id (lower case, a-z 0-9 and -, at most 40). */
export function defaultHostId(): string {
  return hostname()
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40);
}

// Only the fields that are set; an object with none set is left out as a whole.
/** The entries that are set (neither undefined nor ''), or undefined when none is. */
export function defined(entries: Record<string, unknown>): Record<string, unknown> | undefined {
  const kept = Object.entries(entries).filter(([, value]) => value !== undefined && value !== '');
  return kept.length === 0 ? undefined : Object.fromEntries(kept);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// One level of objects is merged field by field (capacity, network, redisTls, transfer, pool, vmmEnv).
function mergeLayer(into: Record<string, unknown>, layer: Record<string, unknown>): Record<string, unknown> {
  const out = { ...into };
  for (const [key, value] of Object.entries(layer)) {
    if (value === undefined) continue;
    const before = out[key];
    out[key] = isPlainObject(before) && isPlainObject(value) ? { ...before, ...value } : value;
  }
  return out;
}
