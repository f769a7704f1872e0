import { createHash } from 'node:crypto';
import { ValidationError } from '../errors/index.ts';

/** The fewest bytes a job key may have: HMAC-SHA-256's own output size. */
export const MIN_JOB_KEY_BYTES = 32;

/** The key producers sign jobs with and workers check them with; `keyId` names it without revealing it. */
export interface JobKey {
  readonly bytes: Buffer;
  /** The first 8 bytes of the key's SHA-256, in hex: told in errors so a mismatch can be traced to a key. */
  readonly keyId: string;
}

/** What a key is given as: hex or base64 text (HANGAR_JOB_KEY, a key file), or raw bytes. */
export type JobKeyInput = string | Uint8Array | JobKey;

/**
 * Reads a job key: raw bytes, or text in hex (`openssl rand -hex 32`) or base64 (standard or
 * URL-safe, `openssl rand -base64 32`), at least 32 bytes either way. `source` names where it
 * came from (HANGAR_JOB_KEY, a file) in the error, which never quotes the key.
 */
export function parseJobKey(input: JobKeyInput, source = 'job key'): JobKey {
  if (isJobKey(input)) return input;
  const bytes = typeof input === 'string' ? decodeText(input.trim(), source) : Buffer.from(input);
  if (bytes.length < MIN_JOB_KEY_BYTES) {
    throw new ValidationError(
      `${source} is ${bytes.length} bytes; a job key needs at least ${MIN_JOB_KEY_BYTES} (make one with: openssl rand -hex 32)`,
      { field: source },
    );
  }
  return { bytes, keyId: createHash('sha256').update(bytes).digest('hex').slice(0, 16) };
}

function isJobKey(input: JobKeyInput): input is JobKey {
  return typeof input === 'object' && 'bytes' in input && 'keyId' in input;
}

// Hex wins when the text could be either (64 hex digits are also valid base64).
function decodeText(text: string, source: string): Buffer {
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return Buffer.from(text, 'base64');
  throw new ValidationError(`${source} is neither hex nor base64 (make one with: openssl rand -hex 32)`, {
    field: source,
  });
}
