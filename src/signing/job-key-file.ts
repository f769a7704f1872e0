import { readFile, stat } from 'node:fs/promises';
import { ValidationError } from '../errors/index.ts';
import { type JobKey, parseJobKey } from './job-key.ts';

/**
 * Reads a job key from a file (hex or base64 text, as HANGAR_JOB_KEY). A key anyone else on
 * the host can read lets them sign jobs that run as root, so a file with any group or other
 * permission is refused rather than used.
 */
export async function readJobKeyFile(path: string): Promise<JobKey> {
  const info = await stat(path).catch((error: unknown) => {
    throw new ValidationError(
      `job key file ${path}: ${(error as Error).message}`,
      { field: 'jobKeyFile' },
      error,
    );
  });
  if (!info.isFile())
    throw new ValidationError(`job key file ${path} is not a file`, { field: 'jobKeyFile' });
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ValidationError(
      `job key file ${path} has mode ${mode.toString(8).padStart(4, '0')}: group or others may read it; refusing it (chmod 600 ${path})`,
      { field: 'jobKeyFile', mode: mode.toString(8) },
    );
  }
  return parseJobKey(await readFile(path, 'utf8'), `job key file ${path}`);
}

/**
 * The key a process signs or checks jobs with: `HANGAR_JOB_KEY` when set, else the file
 * named by a flag or config (flags and environment win over a config file). Undefined
 * when neither is given: jobs go unsigned, and a worker accepts them.
 */
export async function resolveJobKey(options: {
  env?: NodeJS.ProcessEnv;
  /** `--job-key-file`: wins over the environment. */
  flagFile?: string;
  /** `jobKeyFile` from a config file: used when neither flag nor environment names a key. */
  configFile?: string;
}): Promise<JobKey | undefined> {
  const env = options.env ?? process.env;
  if (options.flagFile !== undefined) return readJobKeyFile(options.flagFile);
  const text = env.HANGAR_JOB_KEY;
  if (text !== undefined && text !== '') return parseJobKey(text, 'HANGAR_JOB_KEY');
  if (options.configFile !== undefined) return readJobKeyFile(options.configFile);
  return undefined;
}
