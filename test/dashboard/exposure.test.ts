import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Dashboard,
  DashboardExposedError,
  isLoopbackHost,
  startDashboard,
} from '../../src/dashboard/index.ts';
import { ErrorCode } from '../../src/errors/index.ts';
import { authHeader } from '../support/dashboard.ts';
import { deleteKeys, TEST_REDIS_URL } from '../support/redis.ts';

const keyPrefix = `hangar-test-${randomBytes(4).toString('hex')}`;
const auth = { user: 'ops', password: 'secret' };

describe('dashboard listen address: beyond loopback only with credentials (real Redis)', () => {
  const dashboards: Dashboard[] = [];

  afterAll(async () => {
    await Promise.allSettled(dashboards.map((dashboard) => dashboard.close()));
    await deleteKeys(keyPrefix);
  });

  it('counts 127.0.0.0/8, ::1 and localhost as loopback, and nothing else', () => {
    for (const host of [
      '127.0.0.1',
      '127.10.20.30',
      'localhost',
      'LOCALHOST',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
    ])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of [
      '0.0.0.0',
      '::',
      '10.0.0.5',
      '192.168.1.10',
      '128.0.0.1',
      '::ffff:10.0.0.1',
      'example.com',
      'localhost.example.com',
    ])
      expect(isLoopbackHost(host), host).toBe(false);
  });

  it('refuses to listen on 0.0.0.0 (or any non-loopback address) without credentials, naming the address and the flag', async () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5']) {
      const refused = await startDashboard({ redisUrl: TEST_REDIS_URL, keyPrefix, host, port: 0 }).then(
        (dashboard) => {
          dashboards.push(dashboard);
          throw new Error(`started on ${host}`);
        },
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(DashboardExposedError);
      const error = refused as DashboardExposedError;
      expect(error.code).toBe(ErrorCode.Validation);
      expect(error.host).toBe(host);
      expect(error.message).toContain(`on ${host} without credentials`);
      expect(error.message).toContain('--basic-auth');
      expect(error.message).toContain('HANGAR_DASHBOARD_AUTH');
    }
  });

  it('listens on 0.0.0.0 once credentials are configured, and asks for them', async () => {
    const dashboard = await startDashboard({
      redisUrl: TEST_REDIS_URL,
      keyPrefix,
      host: '0.0.0.0',
      port: 0,
      basicAuth: auth,
    });
    dashboards.push(dashboard);
    expect(dashboard.readOnly).toBe(true);
    expect((await fetch(`${dashboard.url}/admin/queues/api/queues`)).status).toBe(401);
    const allowed = await fetch(`${dashboard.url}/admin/queues/api/queues`, {
      headers: authHeader(auth.user, auth.password),
    });
    expect(allowed.status).toBe(200);
  });

  it('listens on loopback without credentials', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const dashboard = await startDashboard({ redisUrl: TEST_REDIS_URL, keyPrefix, host, port: 0 });
      dashboards.push(dashboard);
      expect((await fetch(`${dashboard.url}/healthz`)).status).toBe(200);
    }
  });
});
