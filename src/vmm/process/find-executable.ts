import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** Finds an executable: the path in `override` when set, else `name` on PATH; undefined when absent. */
export async function findExecutable(
  name: string,
  override: string | undefined,
  path = process.env.PATH,
): Promise<string | undefined> {
  const candidates = override ? [override] : (path ?? '').split(delimiter).map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next
    }
  }
  return undefined;
}
