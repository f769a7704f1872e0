import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';

// Identifiers become file names, netns names, dm names and Redis keys: a strict
// alphabet keeps them safe in every one of those places (no '/', '..', spaces, ':').
const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$|^[a-z0-9]$/;

/** A sandbox, snapshot, template or host id: lowercase alphanumerics and inner dashes, 1-40 chars. */
export const Identifier = z
  .string()
  .regex(
    ID_PATTERN,
    'must be 1-40 chars of a-z, 0-9 and inner dashes (it becomes a file, netns and dm name)',
  );

/** Checks an identifier before it reaches the file system or the kernel. */
export function assertIdentifier(value: string, field: string): string {
  const parsed = Identifier.safeParse(value);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid ${field} ${JSON.stringify(value)}: ${parsed.error.issues[0]?.message}`,
      {
        field,
        value,
      },
    );
  }
  return parsed.data;
}
