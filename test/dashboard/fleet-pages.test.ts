import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, type DashboardOptionsInput, startDashboard } from '../../src/dashboard/index.ts';
import { EventPublisher } from '../../src/events/event-publisher.ts';
import { KeySpace } from '../../src/queues/names.ts';
import { FleetStore } from '../../src/state/fleet-store.ts';
import type { SandboxRecord } from '../../src/state/record-schemas.ts';
import { authHeader, registerHost } from '../support/dashboard.ts';
import { deleteKeys, TEST_REDIS_URL } from '../support/redis.ts';

const keyPrefix = `hangar-test-${randomBytes(4).toString('hex')}`;
const keys = new KeySpace(keyPrefix);

function record(sandboxId: string, hostId: string, labels: Record<string, string>): SandboxRecord {
  const now = new Date().toISOString();
  return {
    sandboxId,
    hostId,
    state: 'running',
    template: 'base',
    vcpus: 1,
    memoryMib: 128,
    labels,
    createdAt: now,
    updatedAt: now,
  };
}

/** Reads server-sent events from a response until `count` have come, then stops reading. */
async function readSse(response: Response, count: number): Promise<{ id: string; data: { type: string } }[]> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { id: string; data: { type: string } }[] = [];
  let buffer = '';
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const id = /^id: (.*)$/m.exec(frame)?.[1];
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (id !== undefined && data !== undefined) events.push({ id, data: JSON.parse(data) });
      end = buffer.indexOf('\n\n');
    }
  }
  await reader.cancel();
  return events;
}

describe('fleet pages over HTTP (stand-in records on real Redis)', () => {
  let redis: Redis;
  let store: FleetStore;
  const dashboards: Dashboard[] = [];
  const positions: string[] = [];

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    store = new FleetStore(redis, keys);
    await registerHost(redis, keyPrefix, 'fpt-h1');
    await registerHost(redis, keyPrefix, 'fpt-h2');
    await store.directory.put('fpt-a', 'fpt-h1');
    await store.directory.put('fpt-b', 'fpt-h2');
    await store.putSandbox(
      record('fpt-a', 'fpt-h1', { team: 'search', note: '<script>alert("x")</script>' }),
    );
    await store.putSandbox(record('fpt-b', 'fpt-h2', { team: 'batch' }));
    const publisher = new EventPublisher(redis, keys);
    for (const [sandboxId, state] of [
      ['fpt-a', 'paused'],
      ['fpt-b', 'paused'],
      ['fpt-a', 'running'],
    ] as const) {
      positions.push(
        await publisher.publish({ type: 'sandbox.state', sandboxId, state, at: new Date().toISOString() }),
      );
    }
  });

  afterAll(async () => {
    await Promise.allSettled(dashboards.map((dashboard) => dashboard.close()));
    redis?.disconnect();
    await deleteKeys(keyPrefix);
  });

  async function start(extra: Partial<DashboardOptionsInput> = {}) {
    const dashboard = await startDashboard({ redisUrl: TEST_REDIS_URL, keyPrefix, port: 0, ...extra });
    dashboards.push(dashboard);
    return dashboard;
  }

  it('lists hosts and sandboxes, escaping what records hold, under a strict content policy', async () => {
    const dashboard = await start();
    const response = await fetch(`${dashboard.url}/fleet`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    const page = await response.text();
    expect(page).toContain('data-host-id="fpt-h1"');
    expect(page).toContain('data-host-id="fpt-h2"');
    expect(page).toContain('data-sandbox-id="fpt-a"');
    expect(page).toContain('data-sandbox-id="fpt-b"');
    expect(page).toContain('note=&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(page).not.toContain('<script>alert');
  });

  it('tells a live host from a silent one (heartbeat expired) and a lost one', async () => {
    const dashboard = await start();
    await registerHost(redis, keyPrefix, 'fpt-h3');
    await registerHost(redis, keyPrefix, 'fpt-h4');
    for (const hostId of ['fpt-h3', 'fpt-h4']) await redis.del(keys.host(hostId).heartbeat());
    expect(await store.hosts.markLost('fpt-h4')).toEqual([]);
    const hosts = await (await fetch(`${dashboard.url}/fleet/fragments/hosts`)).text();
    const condition = (hostId: string) =>
      new RegExp(`data-host-id="${hostId}" data-condition="([a-z]+)"`).exec(hosts)?.[1];
    expect(['fpt-h1', 'fpt-h3', 'fpt-h4'].map(condition)).toEqual(['live', 'silent', 'lost']);
    expect(hosts).toMatch(/<span class="muted">last<\/span> <span data-since="\d+">\d+ s ago<\/span>/);
  });

  it('filters by label and host, pages with a cursor, and refuses a bad filter', async () => {
    const dashboard = await start();
    const byLabel = await (await fetch(`${dashboard.url}/fleet?label=team%3Dbatch`)).text();
    expect(byLabel).toContain('data-sandbox-id="fpt-b"');
    expect(byLabel).not.toContain('data-sandbox-id="fpt-a"');
    const byHost = await (await fetch(`${dashboard.url}/fleet?host=fpt-h1`)).text();
    expect(byHost).toContain('data-sandbox-id="fpt-a"');
    expect(byHost).not.toContain('data-sandbox-id="fpt-b"');
    const first = await (await fetch(`${dashboard.url}/fleet?limit=1`)).text();
    const next = /<a rel="next" href="([^"]+)"/.exec(first)?.[1];
    expect(next).toBeDefined();
    const second = await (await fetch(`${dashboard.url}${next!.replaceAll('&amp;', '&')}`)).text();
    expect([first, second].map((text) => /data-sandbox-id="(fpt-[ab])"/.exec(text)?.[1])).toEqual([
      'fpt-a',
      'fpt-b',
    ]);
    const bad = await fetch(`${dashboard.url}/fleet?state=sleeping`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('state');
  });

  it("serves a new sandbox's row only when it meets the filter", async () => {
    const dashboard = await start();
    const row = (id: string, search: string) =>
      fetch(`${dashboard.url}/fleet/fragments/sandbox-row/${id}${search}`);
    expect((await row('fpt-b', '?label=team%3Dbatch')).status).toBe(200);
    expect((await row('fpt-b', '?label=team%3Dsearch')).status).toBe(204);
    expect((await row('nope', '')).status).toBe(204);
  });

  it("shows a sandbox's record and events, and 404 for an unknown one", async () => {
    const dashboard = await start();
    const response = await fetch(`${dashboard.url}/fleet/sandboxes/fpt-a`);
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(page).toContain('<h1>Sandbox fpt-a</h1>');
    expect((page.match(/data-type="sandbox.state"/g) ?? []).length).toBe(2);
    expect(page).toContain(`sandboxId=fpt-a&amp;after=${positions[2]}`);
    expect((await fetch(`${dashboard.url}/fleet/sandboxes/nope`)).status).toBe(404);
    expect((await fetch(`${dashboard.url}/fleet/sandboxes/NOT_AN_ID`)).status).toBe(400);
  });

  it('streams events, resumes after Last-Event-ID, filters by sandbox', async () => {
    const dashboard = await start();
    const all = await readSse(await fetch(`${dashboard.url}/fleet/events?after=0`), 3);
    expect(all.map((event) => event.id)).toEqual(positions);
    const resumed = await readSse(
      await fetch(`${dashboard.url}/fleet/events?after=0`, { headers: { 'last-event-id': positions[0]! } }),
      2,
    );
    expect(resumed.map((event) => event.id)).toEqual(positions.slice(1));
    const one = await readSse(await fetch(`${dashboard.url}/fleet/events?after=0&sandboxId=fpt-b`), 1);
    expect(one.map((event) => event.id)).toEqual([positions[1]]);
    expect((await fetch(`${dashboard.url}/fleet/events?after=yesterday`)).status).toBe(400);
    expect((await fetch(`${dashboard.url}/fleet/events`, { method: 'HEAD' })).status).toBe(200);
  });

  it('ends open event streams when the dashboard closes', async () => {
    const dashboard = await start();
    const response = await fetch(`${dashboard.url}/fleet/events`);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reading = response.text();
    await dashboard.close();
    await expect(reading).resolves.toContain('retry:');
  });

  it('keeps the read-only and basic auth rules', async () => {
    const dashboard = await start({ basicAuth: { user: 'ops', password: 'pw' } });
    expect((await fetch(`${dashboard.url}/fleet`)).status).toBe(401);
    expect((await fetch(`${dashboard.url}/fleet/events`)).status).toBe(401);
    const headers = authHeader('ops', 'pw');
    expect((await fetch(`${dashboard.url}/fleet`, { headers })).status).toBe(200);
    expect((await fetch(`${dashboard.url}/fleet`, { method: 'POST', headers })).status).toBe(403);
  });
});
