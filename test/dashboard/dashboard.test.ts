import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Dashboard,
  type DashboardOptionsInput,
  PortInUseError,
  startDashboard,
} from '../../src/dashboard/index.ts';
import { hostPrefix, hostQueueName } from '../../src/queues/names.ts';
import { authHeader, registerHost } from '../support/dashboard.ts';
import { deleteKeys, TEST_REDIS_URL } from '../support/redis.ts';

const keyPrefix = `hangar-test-${randomBytes(4).toString('hex')}`;
const auth = { user: 'ops', password: 'p:ss word' };

interface QueuesResponse {
  queues: { name: string; readOnlyMode: boolean; counts: Record<string, number> }[];
}

describe('dashboard (Bull Board over the fleet, real Redis)', () => {
  let redis: Redis;
  let queue: Queue;
  const dashboards: Dashboard[] = [];

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    await registerHost(redis, keyPrefix, 'dash-h1');
    await registerHost(redis, keyPrefix, 'dash-h2');
    queue = new Queue(hostQueueName('dash-h1'), {
      connection: redis,
      prefix: hostPrefix(keyPrefix, 'dash-h1'),
    });
    await queue.add('create', { hello: 'world' });
  });

  afterAll(async () => {
    await Promise.allSettled(dashboards.map((dashboard) => dashboard.close()));
    await queue?.close();
    redis?.disconnect();
    await deleteKeys(keyPrefix);
  });

  async function start(extra: Partial<DashboardOptionsInput>) {
    const dashboard = await startDashboard({
      redisUrl: TEST_REDIS_URL,
      keyPrefix,
      port: 0,
      refreshMs: 200,
      ...extra,
    });
    dashboards.push(dashboard);
    return dashboard;
  }

  it("lists every host's queue and its batch queue, with their jobs counted", async () => {
    const dashboard = await start({});
    const response = await fetch(`${dashboard.url}/admin/queues/api/queues`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as QueuesResponse;
    const names = body.queues.map((q) => q.name).sort();
    expect(names).toEqual(['dash-h1:batch', 'dash-h2:batch', 'host-dash-h1', 'host-dash-h2']);
    expect(body.queues.find((q) => q.name === 'host-dash-h1')?.counts.waiting).toBe(1);
    expect(body.queues.every((q) => q.readOnlyMode === true)).toBe(true);
    expect((await fetch(`${dashboard.url}/healthz`)).status).toBe(200);
    const fleet = (await (await fetch(`${dashboard.url}/api/fleet`)).json()) as {
      hosts: { hostId: string }[];
    };
    expect(fleet.hosts.map((h) => h.hostId)).toEqual(['dash-h1', 'dash-h2']);
  });

  it('picks up a host that registers after it started', async () => {
    const dashboard = await start({});
    await registerHost(redis, keyPrefix, 'dash-h3');
    let names: string[] = [];
    for (let i = 0; i < 50 && !names.includes('host-dash-h3'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const body = (await (await fetch(`${dashboard.url}/admin/queues/api/queues`)).json()) as QueuesResponse;
      names = body.queues.map((q) => q.name);
    }
    expect(names).toContain('host-dash-h3');
  });

  it('asks for basic auth and lets the right credentials in', async () => {
    const dashboard = await start({ basicAuth: auth });
    const denied = await fetch(`${dashboard.url}/admin/queues/api/queues`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Basic/);
    const wrong = await fetch(`${dashboard.url}/admin/queues/api/queues`, {
      headers: authHeader('ops', 'nope'),
    });
    expect(wrong.status).toBe(401);
    const allowed = await fetch(`${dashboard.url}/admin/queues/api/queues`, {
      headers: authHeader(auth.user, auth.password),
    });
    expect(allowed.status).toBe(200);
    expect((await fetch(`${dashboard.url}/api/fleet`)).status).toBe(401);
    expect((await fetch(`${dashboard.url}/healthz`)).status).toBe(200);
  });

  it('reports read-only mode through the Bull Board API: on by default, off with allowActions', async () => {
    const readOnly = await start({});
    expect(readOnly.readOnly).toBe(true);
    const allowed = await start({ allowActions: true });
    expect(allowed.readOnly).toBe(false);
    for (const [dashboard, expected] of [
      [readOnly, true],
      [allowed, false],
    ] as const) {
      const body = (await (await fetch(`${dashboard.url}/admin/queues/api/queues`)).json()) as QueuesResponse;
      expect(body.queues.length).toBeGreaterThanOrEqual(4);
      expect(body.queues.every((q) => q.readOnlyMode === expected)).toBe(true);
    }
  });

  it('frees its port on close, and says when a port is taken', async () => {
    const dashboard = await start({});
    await expect(start({ port: dashboard.port })).rejects.toBeInstanceOf(PortInUseError);
    await dashboard.close();
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(dashboard.port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  it('names the bad field in its options', async () => {
    await expect(start({ redisUrl: 'http://nope' })).rejects.toThrow(/redisUrl/);
  });
});
