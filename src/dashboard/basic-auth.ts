import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';

/** A user and password the dashboard asks for (HTTP basic auth). */
export const BasicAuthCredentials = z.object({
  user: z
    .string()
    .min(1, 'must not be empty')
    .regex(/^[^:]*$/, 'must not contain ":"'),
  password: z.string().min(1, 'must not be empty'),
});
export type BasicAuthCredentials = z.infer<typeof BasicAuthCredentials>;

/** Parses `user:password` (the flag and HANGAR_DASHBOARD_AUTH form); the password may hold colons. */
export function parseBasicAuth(text: string, field = 'basicAuth'): BasicAuthCredentials {
  const colon = text.indexOf(':');
  const parsed = BasicAuthCredentials.safeParse(
    colon < 0
      ? { user: text, password: '' }
      : { user: text.slice(0, colon), password: text.slice(colon + 1) },
  );
  if (!parsed.success) throw ValidationError.fromZod(`${field} (user:password)`, parsed.error);
  return parsed.data;
}

/**
 * Express middleware that lets a request through only with the right credentials. Both sides
 * are hashed before the timing-safe compare, so neither the content nor the length of the
 * secret leaks through response times.
 */
export function basicAuth(credentials: BasicAuthCredentials, realm = 'hangar'): RequestHandler {
  const expected = digest(`${credentials.user}:${credentials.password}`);
  return (request, response, next) => {
    const header = request.headers.authorization ?? '';
    const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
    const given = match?.[1] === undefined ? '' : Buffer.from(match[1], 'base64').toString('utf8');
    if (match !== null && timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    response
      .set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`)
      .status(401)
      .send('authentication required\n');
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
