import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { ValidationError } from '../../errors/index.ts';
import { type Logger, silentLogger } from '../../logging/logger.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { readFileIfExists } from '../../util/read-file-if-exists.ts';

/** What a VMM pidfile records: enough to find the same process again after a worker restart. */
export const PidfileRecord = z.object({
  pid: z.number().int().min(2),
  startedAt: z.iso.datetime(),
  argv: z.array(z.string()).min(1),
  /** A string in the command line (the API socket path) that names this VMM. */
  identity: z.string().min(1),
  /** Field 22 of /proc/<pid>/stat at launch: a reused pid has another start time. */
  procStartTime: z.number().int().nonnegative(),
  /** The file the VMM's stdout and stderr go to (for crash log tails after re-attach). */
  outputPath: z.string().optional(),
  /** The VMM's own log file, if any (CH --log-file). */
  extraLogPath: z.string().optional(),
});

export type PidfileRecord = z.infer<typeof PidfileRecord>;

/** Writes a pidfile atomically (readers never see half of it). */
export async function writePidfile(path: string, record: PidfileRecord): Promise<void> {
  const parsed = PidfileRecord.safeParse(record);
  if (!parsed.success) throw ValidationError.fromZod('pidfile record', parsed.error);
  await writeFileAtomic(path, `${JSON.stringify(parsed.data)}\n`);
}

/** Reads a pidfile; absent, unreadable JSON or a bad shape all give undefined (the latter two logged). */
export async function readPidfile(
  path: string,
  logger: Logger = silentLogger,
): Promise<PidfileRecord | undefined> {
  const text = await readFileIfExists(path);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    logger.warn({ path, err: error }, 'corrupt VMM pidfile (not JSON); treating it as absent');
    return undefined;
  }
  const parsed = PidfileRecord.safeParse(json);
  if (!parsed.success) {
    logger.warn({ path, issues: parsed.error.issues }, 'corrupt VMM pidfile; treating it as absent');
    return undefined;
  }
  return parsed.data;
}

/** Removes a pidfile; a missing one is fine. */
export async function removePidfile(path: string): Promise<void> {
  await rm(path, { force: true });
}
