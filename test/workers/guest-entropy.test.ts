import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../src/errors/index.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { TemplateSpec } from '../../src/templates/template-catalog.ts';
import { RESEED_BYTES, reseedGuest } from '../../src/workers/guest-entropy.ts';

/** A stand-in guest endpoint on loopback: answers each POST with what `answer` says, keeps the bodies. */
async function standIn(answer: (attempt: number) => { status: number; body: string }) {
  const bodies: string[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    bodies.push(body);
    const reply = answer(bodies.length);
    res.writeHead(reply.status, { 'content-type': 'text/plain' }).end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, bodies, port: (server.address() as AddressInfo).port };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

function template(port: number | undefined, timeoutMs = 2_000): TemplateSpec {
  return TemplateSpec.parse({
    templateId: 'g',
    kernelPath: '/k',
    imagePath: '/i',
    ...(port === undefined ? {} : { entropy: { port, path: '/cgi-bin/reseed', timeoutMs } }),
  });
}

// A loopback HTTP server stands in for the guest's endpoint (the real one is in the QEMU suites).
describe('reseedGuest (loopback stand-in for the guest endpoint)', () => {
  it('POSTs fresh hex bytes, and retries until the guest answers 200 with a body', async () => {
    const guest = await standIn((attempt) =>
      attempt === 1
        ? { status: 503, body: 'busy' }
        : attempt === 2
          ? { status: 200, body: '' }
          : { status: 200, body: 'reseeded' },
    );
    servers.push(guest.server);
    expect(await reseedGuest(template(guest.port), '127.0.0.1', { log: silentLogger })).toBeGreaterThan(0);
    expect(guest.bodies).toHaveLength(3);
    for (const body of guest.bodies) expect(body).toMatch(new RegExp(`^[0-9a-f]{${2 * RESEED_BYTES}}$`));
    // Each attempt draws new bytes.
    expect(new Set(guest.bodies).size).toBe(3);
  });

  it('fails with E_TIMEOUT, naming the last answer, when the guest never accepts', async () => {
    const guest = await standIn(() => ({ status: 400, body: 'not lower-case hex' }));
    servers.push(guest.server);
    const failure = reseedGuest(template(guest.port, 500), '127.0.0.1', { log: silentLogger });
    await expect(failure).rejects.toBeInstanceOf(TimeoutError);
    await expect(failure).rejects.toMatchObject({
      code: 'E_TIMEOUT',
      details: { last: '400 not lower-case hex', timeoutMs: 500 },
    });
  });

  it('does nothing for a template without an entropy endpoint', async () => {
    expect(await reseedGuest(template(undefined), '127.0.0.1', { log: silentLogger })).toBe(0);
  });
});
