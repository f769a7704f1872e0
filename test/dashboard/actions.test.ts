import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, type DashboardOptionsInput, startDashboard } from '../../src/dashboard/index.ts';
import { authHeader, jobStates, type SeededQueue, seedHostQueue } from '../support/dashboard.ts';
import { deleteKeys, TEST_REDIS_URL } from '../support/redis.ts';

const keyPrefix = `hangar-test-${randomBytes(4).toString('hex')}`;
const auth = { user: 'ops', password: 'p:ss word' };

/** A request as an attacker would craft it: method, path under the dashboard, JSON body. */
interface Crafted {
  method: string;
  path: string;
  body?: unknown;
}

/** Bull Board's add-job endpoint: what enqueued a job the root worker ran (issue 10). */
function addJob(queue: string, name = 'crafted'): Crafted {
  return {
    method: 'POST',
    path: `/admin/queues/api/queues/${queue}/add`,
    body: { name, data: { from: 'outside' } },
  };
}

async function send(dashboard: Dashboard, request: Crafted, headers: Record<string, string> = {}) {
  return fetch(`${dashboard.url}${request.path}`, {
    method: request.method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
  });
}

describe('dashboard actions: read-only unless allowActions (Bull Board, real Redis)', () => {
  let redis: Redis;
  const dashboards: Dashboard[] = [];
  const seeded: SeededQueue[] = [];

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });

  afterAll(async () => {
    await Promise.allSettled(dashboards.map((dashboard) => dashboard.close()));
    await Promise.allSettled(seeded.map(({ queue }) => queue.close()));
    redis?.disconnect();
    await deleteKeys(keyPrefix);
  });

  async function seed(hostId: string): Promise<SeededQueue> {
    const queue = await seedHostQueue(redis, keyPrefix, hostId);
    seeded.push(queue);
    return queue;
  }

  async function start(extra: Partial<DashboardOptionsInput>): Promise<Dashboard> {
    const dashboard = await startDashboard({ redisUrl: TEST_REDIS_URL, keyPrefix, port: 0, ...extra });
    dashboards.push(dashboard);
    return dashboard;
  }

  it('by default refuses an anonymous add-job POST with 403 naming --allow-actions, and enqueues nothing', async () => {
    const { queue, name } = await seed('act-add');
    const before = await jobStates(queue);
    const dashboard = await start({});
    expect(dashboard.readOnly).toBe(true);

    // Also the spellings Express routes the same way (it matches paths case-insensitively).
    for (const path of [
      addJob(name).path,
      `/ADMIN/Queues/api/queues/${name}/add`,
      `/admin/queues/api/queues/${name}/add/`,
    ]) {
      const response = await send(dashboard, { ...addJob(name), path });
      expect(response.status, path).toBe(403);
      expect(((await response.json()) as { error: string }).error).toMatch(/--allow-actions/);
    }

    expect(await jobStates(queue)).toEqual(before);
    expect(Object.values(await jobStates(queue)).some((state) => state.startsWith('crafted:'))).toBe(false);
  });

  it('by default refuses retry, promote, clean, remove, pause, empty, obliterate and edit requests, and every job stays as it was', async () => {
    const { queue, name, ids } = await seed('act-rest');
    const before = await jobStates(queue);
    expect(before).toEqual({
      [ids.failed]: 'create:failed',
      [ids.waiting]: 'pause:waiting',
      [ids.delayed]: 'resume:delayed',
    });
    const dashboard = await start({});
    const base = `/admin/queues/api/queues/${name}`;
    const crafted: Crafted[] = [
      { method: 'PUT', path: `${base}/retry/failed` },
      { method: 'PUT', path: `${base}/${ids.failed}/retry` },
      { method: 'PUT', path: `${base}/promote` },
      { method: 'PUT', path: `${base}/${ids.delayed}/promote` },
      { method: 'PUT', path: `${base}/clean/failed` },
      { method: 'PUT', path: `${base}/${ids.waiting}/clean` },
      { method: 'PUT', path: `${base}/pause` },
      { method: 'PUT', path: '/admin/queues/api/queues/pause' },
      { method: 'PUT', path: `${base}/empty` },
      { method: 'PUT', path: `${base}/obliterate` },
      { method: 'PATCH', path: `${base}/${ids.waiting}/update-data`, body: { data: { changed: true } } },
      { method: 'DELETE', path: `${base}/${ids.waiting}` },
      { method: 'POST', path: '/api/fleet' },
    ];
    for (const request of crafted) {
      const response = await send(dashboard, request);
      expect(response.status, `${request.method} ${request.path}`).toBe(403);
      expect(((await response.json()) as { error: string }).error).toMatch(/--allow-actions/);
    }

    expect(await jobStates(queue)).toEqual(before);
    expect(await queue.isPaused()).toBe(false);
    expect((await queue.getJob(ids.waiting))?.data).toEqual({ step: 'waiting' });
    // Reading still works.
    expect((await fetch(`${dashboard.url}${base}/${ids.failed}`)).status).toBe(200);
  });

  it('with allowActions on loopback, the same anonymous add-job POST enqueues the job', async () => {
    const { queue, name } = await seed('act-allow');
    const dashboard = await start({ allowActions: true });
    expect(dashboard.readOnly).toBe(false);

    const response = await send(dashboard, addJob(name, 'wanted'));
    expect(response.status).toBe(200);
    const { job } = (await response.json()) as { job: { id: string } };
    const added = await queue.getJob(job.id);
    expect(added?.name).toBe('wanted');
    expect(added?.data).toEqual({ from: 'outside' });
  });

  it('with allowActions and credentials, add, retry and remove need the credentials and then work', async () => {
    const { queue, name, ids } = await seed('act-auth');
    const dashboard = await start({ allowActions: true, basicAuth: auth });
    const base = `/admin/queues/api/queues/${name}`;

    expect((await send(dashboard, addJob(name))).status).toBe(401);
    expect((await send(dashboard, { method: 'PUT', path: `${base}/${ids.failed}/retry` })).status).toBe(401);
    expect(Object.keys(await jobStates(queue)).sort()).toEqual(Object.values(ids).sort());

    const headers = authHeader(auth.user, auth.password);
    const added = await send(dashboard, addJob(name, 'with-auth'), headers);
    expect(added.status).toBe(200);
    const { job } = (await added.json()) as { job: { id: string } };
    expect((await queue.getJob(job.id))?.name).toBe('with-auth');

    expect(
      (await send(dashboard, { method: 'PUT', path: `${base}/${ids.failed}/retry` }, headers)).status,
    ).toBe(204);
    expect(await (await queue.getJob(ids.failed))?.getState()).toBe('waiting');

    expect(
      (await send(dashboard, { method: 'PUT', path: `${base}/${ids.waiting}/clean` }, headers)).status,
    ).toBe(204);
    expect(await queue.getJob(ids.waiting)).toBeUndefined();
  });
});
