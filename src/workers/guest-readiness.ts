import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { TimeoutError } from '../errors/index.ts';
import type { TemplateSpec } from '../templates/template-catalog.ts';

/**
 * Waits until the guest answers its template's readiness endpoint through the sandbox's host
 * address (the DNAT path), not merely until the VMM process runs. The deadline grows with
 * memory size, since a larger guest takes longer to boot or restore.
 */
export async function waitGuestReady(
  template: TemplateSpec,
  hostIp: string,
  memoryMib: number,
  signal?: AbortSignal,
): Promise<number> {
  const readiness = template.readiness;
  if (readiness === undefined) return 0;
  const timeoutMs = readiness.timeoutMs + Math.ceil((memoryMib / 1024) * readiness.perGibMs);
  const url = `http://${hostIp}:${readiness.port}${readiness.path}`;
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    signal?.throwIfAborted();
    try {
      const response = await request(url, { headersTimeout: 1_000, bodyTimeout: 1_000 });
      await response.body.text();
      if (response.statusCode === 200) return Date.now() - started;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new TimeoutError(`guest did not answer ${url} within ${timeoutMs} ms`, { url, timeoutMs });
}
