import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';

/** One loop attachment as `losetup --json --list` reports it. */
export interface LoopDevice {
  /** `/dev/loopN`. */
  device: string;
  /** The backing file as the kernel names it (its real path; " (deleted)" once unlinked). */
  backFile: string;
  readOnly: boolean;
  /** Set by a detach while the device was still open: it goes away on its last close. */
  autoclear: boolean;
  offset: number;
  sizeLimit: number;
  /** "7:0" as a dm table names it; only in a listAllArgs listing. */
  majMin?: string;
}

/** stderr of `losetup -d` when the device is already gone (detached, or no such node). */
export const LOOP_ABSENT = /No such device or address|failed to use device: No such device/;

// util-linux 2.38 prints JSON booleans and numbers; older releases print "0"/"1" strings.
const flag = z.union([z.boolean(), z.literal(0), z.literal(1), z.enum(['0', '1'])]).transform((v) => {
  return v === true || v === 1 || v === '1';
});
const count = z.union([z.number(), z.string().regex(/^\d+$/)]).transform(Number);

const LosetupList = z.object({
  loopdevices: z.array(
    z.object({
      name: z.string().regex(/^\/dev\/loop\d+$/),
      'back-file': z.string().nullable(),
      ro: flag,
      autoclear: flag,
      offset: count.optional(),
      sizelimit: count.optional(),
      'maj:min': z.string().optional(),
    }),
  ),
});

/** Reads `losetup --json --list` output; empty output (no device at all) is an empty list. */
export function parseLosetupList(stdout: string): LoopDevice[] {
  if (stdout.trim() === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch (error) {
    throw new ValidationError('losetup printed something that is not JSON', { stdout }, error);
  }
  const parsed = LosetupList.safeParse(json);
  if (!parsed.success) throw ValidationError.fromZod('losetup --json output', parsed.error);
  return parsed.data.loopdevices.map((entry) => ({
    device: entry.name,
    backFile: entry['back-file'] ?? '',
    readOnly: entry.ro,
    autoclear: entry.autoclear,
    offset: entry.offset ?? 0,
    sizeLimit: entry.sizelimit ?? 0,
    ...(entry['maj:min'] === undefined ? {} : { majMin: entry['maj:min'].trim() }),
  }));
}

/** argv (after `losetup`) listing the attachments of one file, matched by inode. */
export function listAssociatedArgs(file: string): string[] {
  return ['--json', '--list', '--associated', file];
}

/** argv (after `losetup`) listing every attachment with its major:minor (to read dm tables). */
export function listAllArgs(): string[] {
  return ['--json', '--list', '--output', 'NAME,MAJ:MIN,BACK-FILE,RO,AUTOCLEAR,OFFSET,SIZELIMIT'];
}

/** argv attaching a file on the first free loop device and printing its name. */
export function attachArgs(file: string, readOnly: boolean): string[] {
  return readOnly ? ['--read-only', '--find', '--show', file] : ['--find', '--show', file];
}

/** argv detaching a loop device. */
export function detachArgs(device: string): string[] {
  return ['-d', device];
}

/** A plain whole-file attachment (no offset or size limit) that is not being torn down. */
export function isPlainAttachment(loop: LoopDevice, readOnly: boolean): boolean {
  return loop.readOnly === readOnly && !loop.autoclear && loop.offset === 0 && loop.sizeLimit === 0;
}
