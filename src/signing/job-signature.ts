import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { UnsignedJobError } from '../errors/index.ts';
import { canonicalJson } from './canonical-json.ts';
import type { JobKey } from './job-key.ts';

/**
 * A job's signature, kept in its data (`data.sig`) so it travels with the job: a Bull Board
 * retry runs the same data and so keeps it. `mac` is HMAC-SHA-256 (base64url) over
 * signedBytes(); `keyId` only names the key, for error messages.
 */
export const JobSignature = z
  .object({
    alg: z.literal('hmac-sha256'),
    keyId: z
      .string()
      .regex(/^[0-9a-f]{16}$/)
      .optional(),
    mac: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be 32 bytes of base64url'),
  })
  .strict();
export type JobSignature = z.infer<typeof JobSignature>;

/** Where a job sits: what a signature binds its data to, so it cannot be moved or renamed. */
export interface SignedPlace {
  /** The queue's full name, `<key prefix>:{host:<id>}:<queue>` (see queueAddress). */
  queue: string;
  jobId: string;
  /** The job's name (a host job's op). */
  name: string;
}

/** Versioned, so a later format can never be confused with this one. */
const DOMAIN = 'hangar-job-v1\n';

/**
 * The bytes a signature covers: the job's queue, id and name, and its data without `sig`,
 * serialized canonically. Binding the id and queue means a signed job copied under another
 * id, onto another host's queue or another fleet's prefix no longer verifies.
 */
export function signedBytes(place: SignedPlace, data: Record<string, unknown>): Buffer {
  const { sig: _sig, ...unsigned } = data;
  return Buffer.from(
    DOMAIN + canonicalJson({ queue: place.queue, jobId: place.jobId, name: place.name, data: unsigned }),
  );
}

/** Returns the data with its signature added (any earlier `sig` replaced). */
export function signJobData<D extends Record<string, unknown>>(
  key: JobKey,
  place: SignedPlace,
  data: D,
): D & { sig: JobSignature } {
  const mac = createHmac('sha256', key.bytes).update(signedBytes(place, data)).digest('base64url');
  return { ...data, sig: { alg: 'hmac-sha256', keyId: key.keyId, mac } };
}

/**
 * Throws UnsignedJobError unless `data` (the job's data as read back from Redis) carries a
 * signature made with `key` for this place. The comparison takes the same time whatever
 * the MAC, so timing tells a forger nothing about how close a guess came.
 */
export function checkJobSignature(key: JobKey, place: SignedPlace, data: unknown): void {
  const what = `job ${place.jobId} (${place.name})`;
  const details = { jobId: place.jobId, name: place.name, keyId: key.keyId };
  if (data === null || typeof data !== 'object' || !('sig' in data) || data.sig === undefined) {
    throw new UnsignedJobError(
      `${what} is not signed: this worker runs only jobs signed with its job key (id ${key.keyId}); it was added by a producer without the key, or by hand (Bull Board's add, a Redis write)`,
      details,
    );
  }
  const parsed = JobSignature.safeParse(data.sig);
  if (!parsed.success) throw new UnsignedJobError(`${what} has a malformed signature`, details);
  const sig = parsed.data;
  if (sig.keyId !== undefined && sig.keyId !== key.keyId) {
    throw new UnsignedJobError(
      `${what} is signed with another job key (id ${sig.keyId}; this worker's is ${key.keyId})`,
      { ...details, signedWith: sig.keyId },
    );
  }
  const expected = createHmac('sha256', key.bytes)
    .update(signedBytes(place, data as Record<string, unknown>))
    .digest();
  const given = Buffer.from(sig.mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new UnsignedJobError(
      `${what}'s signature does not match: its data, name, id or queue changed after it was signed, or it was signed with another key`,
      details,
    );
  }
}

/** A queue's full name as a signature names it: `<host prefix>:<queue>`, as BullMQ qualifies it. */
export function queueAddress(hostPrefix: string, queueName: string): string {
  return `${hostPrefix}:${queueName}`;
}
