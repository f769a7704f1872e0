import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { ValidationError } from '../errors/index.ts';
import { WorkerConfig, type WorkerConfigInput } from './worker-config.ts';

/** A config file may leave out what flags, the environment or defaults give (the host id, say). */
const WorkerConfigFileSchema = WorkerConfig.partial();

/**
 * Reads a worker config file (`hangar worker --config`): YAML, or JSON (which YAML reads
 * too), with the fields of WorkerConfig. Checked on its own, so an error names the file and
 * each bad field; what it leaves out comes from flags, the environment or the defaults.
 */
export async function readWorkerConfigFile(path: string): Promise<Partial<WorkerConfigInput>> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    throw new ValidationError(
      `worker config file ${path}: ${(error as Error).message}`,
      { field: 'config' },
      error,
    );
  });
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (error) {
    throw new ValidationError(
      `worker config file ${path} is not YAML or JSON: ${(error as Error).message}`,
      { field: 'config' },
      error,
    );
  }
  // Checked, but the raw fields are returned: defaults are filled in once, after the layers meet.
  const checked = WorkerConfigFileSchema.safeParse(raw);
  if (!checked.success) throw ValidationError.fromZod(`worker config file ${path}`, checked.error);
  return raw as Partial<WorkerConfigInput>;
}
