import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { execa, type ResultPromise } from 'execa';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPrefix, hostQueueName } from '../../src/queues/names.ts';
import { waitForOutput } from '../support/child-output.ts';
import { registerHost } from '../support/dashboard.ts';
import { deleteKeys, TEST_REDIS_URL } from '../support/redis.ts';

const HANGAR = fileURLToPath(new URL('../../bin/hangar.ts', import.meta.url));
const keyPrefix = `hangar-test-${randomBytes(4).toString('hex')}`;

interface Started {
  url: string;
  port: number;
  readOnly: boolean;
}

describe('hangar dashboard: read-only unless --allow-actions, loopback unless --basic-auth', () => {
  let redis: Redis;
  let queue: Queue;
  const children: ResultPromise[] = [];

  // An empty HANGAR_DASHBOARD_AUTH, so a value in the test's own environment cannot leak in.
  const run = (args: string[], env: Record<string, string> = {}) => {
    const child = execa('node', [HANGAR, 'dashboard', ...args, '--prefix', keyPrefix], {
      reject: false,
      env: { REDIS_URL: TEST_REDIS_URL, HANGAR_DASHBOARD_AUTH: '', ...env },
    });
    children.push(child);
    return child;
  };

  const startJson = async (args: string[]) => {
    const child = run([...args, '--port', '0', '--json']);
    const started = JSON.parse((await waitForOutput(child, /\}\n/)).trim()) as Started;
    return { child, started };
  };

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    // A registered host's queue is on the board from the dashboard's start.
    await registerHost(redis, keyPrefix, 'dc-h1');
    queue = new Queue(hostQueueName('dc-h1'), { connection: redis, prefix: hostPrefix(keyPrefix, 'dc-h1') });
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.allSettled(children);
    await queue?.close();
    redis?.disconnect();
    await deleteKeys(keyPrefix);
  });

  it('refuses --host 0.0.0.0 without credentials: prints the typed error naming the address and flag, exits 1', async () => {
    // An unreachable Redis: the refusal comes first, whatever state Redis is in.
    const result = await run(['--host', '0.0.0.0', '--port', '0', '--redis', 'redis://127.0.0.1:1']);
    expect(result.exitCode).toBe(1);
    expect(String(result.stderr)).toMatch(
      /^hangar: E_VALIDATION: refusing to serve the dashboard on 0\.0\.0\.0 without credentials: .*--basic-auth user:password \(or HANGAR_DASHBOARD_AUTH/m,
    );
  });

  it('starts read-only by default and answers a crafted add-job POST with 403', async () => {
    const { child, started } = await startJson([]);
    expect(started.readOnly).toBe(true);
    const response = await fetch(`${started.url}/api/queues/host-dc-h1/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'crafted', data: {} }),
    });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: string }).error).toMatch(/--allow-actions/);
    expect(await queue.getJobCounts()).toEqual(expect.objectContaining({ waiting: 0, delayed: 0 }));
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });

  it('with --allow-actions the same POST enqueues the job', async () => {
    const { child, started } = await startJson(['--allow-actions']);
    expect(started.readOnly).toBe(false);
    const response = await fetch(`${started.url}/api/queues/host-dc-h1/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'wanted', data: { n: 1 } }),
    });
    expect(response.status).toBe(200);
    const { job } = (await response.json()) as { job: { id: string } };
    expect((await queue.getJob(job.id))?.name).toBe('wanted');
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });

  it('listens on 0.0.0.0 with HANGAR_DASHBOARD_AUTH set, as docker-compose runs it', async () => {
    const child = run(['--host', '0.0.0.0', '--port', '0', '--json'], {
      HANGAR_DASHBOARD_AUTH: 'ops:secret',
    });
    const started = JSON.parse((await waitForOutput(child, /\}\n/)).trim()) as Started;
    expect((await fetch(`${started.url}/api/queues`)).status).toBe(401);
    const allowed = await fetch(`${started.url}/api/queues`, {
      headers: { authorization: `Basic ${Buffer.from('ops:secret').toString('base64')}` },
    });
    expect(allowed.status).toBe(200);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });

  it('rejects --allow-actions together with the old --read-only', async () => {
    const result = await run(['--allow-actions', '--read-only', '--port', '0']);
    expect(result.exitCode).not.toBe(0);
    expect(String(result.stderr)).toMatch(/--allow-actions.*cannot be used with.*--read-only/);
  });
});
