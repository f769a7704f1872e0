import { type Command, Option } from 'commander';
import { type ZodType, z } from 'zod';
import { ValidationError } from '../../errors/index.ts';
import { Labels } from '../../queues/job-schemas.ts';

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

/** The options every fleet command takes: which Redis, which deployment, human or JSON output. */
export const FleetFlags = z.object({ redis: RedisUrl, prefix: KeyPrefix, json: z.boolean().default(false) });
export type FleetFlags = z.infer<typeof FleetFlags>;

/** Adds --redis, --prefix (each with its environment variable) and --json to a command. */
export function addFleetOptions(command: Command): Command {
  return command
    .addOption(new Option('--redis <url>', "the fleet's Redis").env('REDIS_URL').default(DEFAULT_REDIS_URL))
    .addOption(
      new Option('--prefix <keyPrefix>', 'key prefix of the deployment (several fleets can share a Redis)')
        .env('HANGAR_KEY_PREFIX')
        .default('hangar'),
    )
    .option('--json', 'machine-readable output (JSON)');
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
