import { type Command, Option } from 'commander';
import { type ZodType, z } from 'zod';
import { ValidationError } from '../../errors/index.ts';
import { Labels } from '../../queues/job-schemas.ts';
import type { RedisTlsFiles } from '../../redis/redis-tls.ts';

/** Where the fleet's Redis is when nothing says otherwise. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** A Redis URL flag or variable. */
export const RedisUrl = z.string().regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL');

/** A deployment's key prefix (the same rule as the worker config's). */
export const KeyPrefix = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,40}$/, 'must be 1-41 chars of a-z, 0-9, _ -');

/** An integer flag (commander hands over strings), bounded. */
export function intFlag(min: number, max: number) {
  return z.coerce.number().int('must be a whole number').min(min).max(max);
}

/** Repeated `--label key=value` flags, turned into a validated label map. */
export const LabelFlags = z
  .array(z.string().regex(/^[^=]+=[^=]*$/, 'must be key=value'))
  .default([])
  .transform((pairs) => Object.fromEntries(pairs.map((pair) => pair.split('=', 2) as [string, string])))
  .pipe(Labels);

/**
 * The options every fleet command takes: which Redis (and its TLS files), which deployment,
 * the job key file (commands that enqueue jobs sign them), human or JSON output.
 */
export const FleetFlags = z.object({
  redis: RedisUrl,
  prefix: KeyPrefix,
  redisTlsCa: z.string().min(1).optional(),
  redisTlsCert: z.string().min(1).optional(),
  redisTlsKey: z.string().min(1).optional(),
  jobKeyFile: z.string().min(1).optional(),
  json: z.boolean().default(false),
});
export type FleetFlags = z.infer<typeof FleetFlags>;

/**
 * Adds --redis, --prefix, --redis-tls-ca/-cert/-key (each with its environment variable),
 * --job-key-file (unless `jobKey` is false: the dashboard enqueues nothing) and --json.
 */
export function addFleetOptions(command: Command, options: { jobKey?: boolean } = {}): Command {
  command
    .addOption(new Option('--redis <url>', "the fleet's Redis").env('REDIS_URL').default(DEFAULT_REDIS_URL))
    .addOption(
      new Option('--prefix <keyPrefix>', 'key prefix of the deployment (several fleets can share a Redis)')
        .env('HANGAR_KEY_PREFIX')
        .default('hangar'),
    )
    .addOption(
      new Option(
        '--redis-tls-ca <file>',
        'PEM file of the CA that signed the Redis server’s certificate',
      ).env('HANGAR_REDIS_TLS_CA'),
    )
    .addOption(
      new Option('--redis-tls-cert <file>', 'PEM file of this client’s certificate, for Redis').env(
        'HANGAR_REDIS_TLS_CERT',
      ),
    )
    .addOption(
      new Option('--redis-tls-key <file>', 'PEM file of this client’s private key, for Redis').env(
        'HANGAR_REDIS_TLS_KEY',
      ),
    );
  if (options.jobKey !== false) {
    command.option(
      '--job-key-file <file>',
      'file holding the fleet’s job key (mode 0600); else HANGAR_JOB_KEY (hex or base64, at least 32 bytes)',
    );
  }
  return command.option('--json', 'machine-readable output (JSON)');
}

/** The Redis TLS files the flags name (undefined when none). */
export function redisTlsFromFlags(
  flags: Pick<Partial<FleetFlags>, 'redisTlsCa' | 'redisTlsCert' | 'redisTlsKey'>,
): RedisTlsFiles | undefined {
  const files = {
    ...(flags.redisTlsCa === undefined ? {} : { ca: flags.redisTlsCa }),
    ...(flags.redisTlsCert === undefined ? {} : { cert: flags.redisTlsCert }),
    ...(flags.redisTlsKey === undefined ? {} : { key: flags.redisTlsKey }),
  };
  return Object.keys(files).length === 0 ? undefined : files;
}

/** Collects a repeatable flag's values into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Validates a command's flags; the error names each bad flag as it is typed
 * (`--vcpus: ...`), so a user sees what to change.
 */
export function parseFlags<S extends ZodType>(command: string, schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => {
    const [first, ...rest] = issue.path;
    return typeof first === 'string' ? { ...issue, path: [flagName(first), ...rest] } : issue;
  });
  throw ValidationError.fromZod(`${command} options`, new z.ZodError(issues));
}

/** `memoryMib` → `--memory-mib`; positional arguments (named `<id>` style) stay as they are. */
function flagName(key: string): string {
  if (key.startsWith('<')) return key;
  return `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}
