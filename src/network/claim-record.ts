// What a slot claim file holds, who may hold a slot, and how one claim file is read.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';
import { Identifier } from '../validation/identifiers.ts';

/** Who may hold a slot: a sandbox id, or a pool's reserved `pool:<name>` (never a valid sandbox id). */
export const ClaimOwner = z.union([
  Identifier,
  z.string().regex(/^pool:[a-z0-9][a-z0-9-]{0,38}$/, 'pool owners are pool:<name>'),
]);

/** The content of one claim file. */
export const ClaimRecord = z.object({
  owner: ClaimOwner,
  pid: z.number().int().nonnegative(),
  claimedAt: z.iso.datetime(),
  transferredAt: z.iso.datetime().optional(),
});
export type ClaimRecord = z.infer<typeof ClaimRecord>;

/** The owner string a SlotPool named `name` claims under. */
export function poolOwner(name = 'default'): string {
  const owner = `pool:${name}`;
  checkOwner(owner);
  return owner;
}

/** What reading a claim file found. */
export type ClaimFileRead =
  | { kind: 'ok'; record: ClaimRecord }
  | { kind: 'absent' }
  | { kind: 'corrupt'; reason: string };

/** Reads one claim file: its record, absent, or corrupt (with why). */
export async function readClaimFile(path: string): Promise<ClaimFileRead> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return { kind: 'absent' };
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'corrupt', reason: 'not JSON' };
  }
  const parsed = ClaimRecord.safeParse(json);
  if (!parsed.success) return { kind: 'corrupt', reason: z.prettifyError(parsed.error) };
  return { kind: 'ok', record: parsed.data };
}

/** Throws ValidationError unless `owner` is an identifier or pool:<name>. */
export function checkOwner(owner: string): void {
  const parsed = ClaimOwner.safeParse(owner);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid slot owner ${JSON.stringify(owner)}: must be an identifier or pool:<name>`,
      {
        field: 'owner',
        value: owner,
      },
    );
  }
}

/** The errno code (ENOENT, EEXIST, ...) of a file system error, if it is one. */
export function errnoOf(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error ? String(error.code) : undefined;
}
