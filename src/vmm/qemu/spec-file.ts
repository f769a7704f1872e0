import { join } from 'node:path';
import { z } from 'zod';
import { ValidationError } from '../../errors/index.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { readFileIfExists } from '../../util/read-file-if-exists.ts';
import type { VmSpec } from '../vm-spec.ts';

/**
 * Name of the small JSON that records what a QEMU VM was launched with: next to the pidfile
 * (which disk a live VM runs) and inside a snapshot (the vCPUs and memory a restore must match).
 */
export const SPEC_FILE = 'vm-spec.json';

/** What vm-spec.json holds: the parts of a VmSpec that outlive the launch. */
export const SpecRecord = z.object({
  sandboxId: z.string(),
  vcpus: z.number().int().min(1),
  memoryMib: z.number().int().min(1),
  diskPath: z.string(),
  netns: z.string().optional(),
});
export type SpecRecord = z.infer<typeof SpecRecord>;

/** The record of `spec` (its env is left out: it only tunes the process). */
export function specRecord(spec: VmSpec): SpecRecord {
  const { sandboxId, vcpus, memoryMib, diskPath, netns } = spec;
  return { sandboxId, vcpus, memoryMib, diskPath, ...(netns === undefined ? {} : { netns }) };
}

/** Writes `dir`/vm-spec.json atomically. */
export async function writeSpecFile(dir: string, record: SpecRecord): Promise<void> {
  await writeFileAtomic(join(dir, SPEC_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

/** Reads `dir`/vm-spec.json; undefined when absent, ValidationError when it does not parse. */
export async function readSpecFile(dir: string): Promise<SpecRecord | undefined> {
  const path = join(dir, SPEC_FILE);
  const text = await readFileIfExists(path);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`${path} is not JSON`, { path }, error);
  }
  const parsed = SpecRecord.safeParse(json);
  if (!parsed.success) throw ValidationError.fromZod(path, parsed.error);
  return parsed.data;
}
