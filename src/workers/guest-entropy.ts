import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { TimeoutError } from '../errors/index.ts';
import type { Logger } from '../logging/logger.ts';
import type { TemplateSpec } from '../templates/template-catalog.ts';

/** Bytes of fresh entropy a reseed sends: 512 bits, the most the test guest's helper takes. */
export const RESEED_BYTES = 64;

/**
 * Gives a VM that did not boot itself (restored from a snapshot, later taken from a pool)
 * fresh entropy before it is handed out: its memory, CRNG key included, is its source's, so
 * without this two clones draw the same "random" bytes until their kernels next reseed.
 * POSTs RESEED_BYTES from node:crypto, as hex, to the template's entropy endpoint through the
 * sandbox's host address (the DNAT path readiness uses), retrying until the guest answers 200
 * with a body. Returns the milliseconds it took; 0 when the template has no endpoint (nothing
 * to do). Throws TimeoutError, with the guest's last answer, when it never accepts.
 */
export async function reseedGuest(
  template: TemplateSpec,
  hostIp: string,
  options: { log: Logger; signal?: AbortSignal },
): Promise<number> {
  const entropy = template.entropy;
  if (entropy === undefined) {
    options.log.debug(
      { template: template.templateId },
      'template has no entropy endpoint: the guest keeps the RNG state it was restored with',
    );
    return 0;
  }
  const url = `http://${hostIp}:${entropy.port}${entropy.path}`;
  const started = Date.now();
  let last = 'no answer';
  while (Date.now() - started < entropy.timeoutMs) {
    options.signal?.throwIfAborted();
    // New bytes on every attempt: nothing the guest may have half-taken is sent twice.
    const body = randomBytes(RESEED_BYTES).toString('hex');
    try {
      const response = await request(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain' },
        headersTimeout: 2_000,
        bodyTimeout: 2_000,
        reset: true,
      });
      const text = (await response.body.text()).trim();
      // busybox httpd now and then loses a CGI's output under load: an empty 200 proves nothing.
      if (response.statusCode === 200 && text !== '') {
        options.log.debug({ url, answer: text }, 'guest reseeded');
        return Date.now() - started;
      }
      last = `${response.statusCode} ${text === '' ? '(empty body)' : text}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  throw new TimeoutError(
    `guest did not accept fresh entropy at ${url} within ${entropy.timeoutMs} ms (last: ${last})`,
    { url, timeoutMs: entropy.timeoutMs, last },
  );
}
