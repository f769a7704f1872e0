import { request } from 'undici';

// The test guest's HTTP endpoints, reached as any client reaches a sandbox: through its host
// address (the DNAT path).

/** One HTTP GET to the guest through the sandbox's host address (the DNAT path). */
export async function guest(address: string, path: string, timeoutMs = 2_000): Promise<string> {
  const response = await request(`http://${address}${path}`, {
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return (await response.body.text()).trim();
}

export function counterOf(text: string): { counter: number; disk: string } {
  const match = /counter=(\d+)\s+disk=(\S+)/.exec(text);
  if (!match) throw new Error(`unexpected guest answer: ${text}`);
  return { counter: Number(match[1]), disk: match[2]! };
}

/**
 * Bumps the guest's counter and reads it. Under heavy load (TCG on 2 cores) busybox httpd now
 * and then answers a CGI request with an empty body, so a malformed answer is retried; since
 * such a request may still have counted, the tests compare counters by order, not by +1.
 */
export async function bump(address: string): Promise<{ counter: number; disk: string }> {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt += 1) {
    last = await guest(address, '/cgi-bin/counter', 5_000).catch(() => '');
    if (/counter=\d+\s+disk=\S+/.test(last)) return counterOf(last);
  }
  return counterOf(last);
}

/** The counter value the guest's disk holds at offset 0. */
export async function diskCounter(address: string): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const match = /counter=(\d+)/.exec(await guest(address, '/cgi-bin/disk', 5_000).catch(() => ''));
    if (match) return Number(match[1]);
  }
  throw new Error(`no counter on the disk of ${address}`);
}
