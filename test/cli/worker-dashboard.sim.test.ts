import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNetworkConfig, removeHostNetwork, sweepNetwork } from '../../src/network/index.ts';
import { HangarClient } from '../../src/producer/hangar-client.ts';
import { waitForOutput } from '../support/child-output.ts';
import { namespacesWithPrefix } from '../support/network-objects.ts';
import { deleteKeys, TEST_REDIS_URL } from '../support/redis.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

const HANGAR = fileURLToPath(new URL('../../bin/hangar.ts', import.meta.url));
const network = parseNetworkConfig({
  prefix: 'hgcw',
  vethRange: '10.188.0.0/16',
  hostRange: '10.189.0.0/16',
});
const keyPrefix = `hangar-test-${randomBytes(4).toString('hex')}`;

describe('hangar worker and hangar dashboard as processes [CH simulator stand-in]', () => {
  let dir: TempDir;
  const children: ResultPromise[] = [];

  const spawn = (args: string[], env: Record<string, string> = {}) => {
    const child = execa('node', [HANGAR, ...args, '--prefix', keyPrefix], {
      reject: false,
      env: { REDIS_URL: TEST_REDIS_URL, ...env },
    });
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    dir = await makeTempDir('hangar-cli-worker-');
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.allSettled(children);
    await sweepNetwork(network, new Set()).catch(() => undefined);
    await removeHostNetwork(network).catch(() => undefined);
    await deleteKeys(keyPrefix);
    await dir?.remove();
  }, 60_000);

  it('runs a worker that says which VMM it uses and serves its metrics, shows its queue on the dashboard, and stops on SIGTERM', async () => {
    const worker = spawn(
      [
        'worker',
        '--host-id',
        'cliw',
        '--state-dir',
        join(dir.path, 'state'),
        '--vmm',
        'simulator',
        '--disk',
        'file',
        '--metrics-port',
        '0',
        '--transfer-port',
        '0',
        '--transfer-listen',
        '127.0.0.1',
      ],
      {
        HANGAR_JOB_KEY: randomBytes(32).toString('hex'),
        HANGAR_POOL_SIZE: '1',
        HANGAR_NETWORK_PREFIX: network.prefix,
        HANGAR_VETH_RANGE: network.vethRange,
        HANGAR_HOST_RANGE: network.hostRange,
        HANGAR_LOG_LEVEL: 'warn',
      },
    );
    const started = await waitForOutput(worker, /worker cliw consuming host-cliw/);
    expect(started).toMatch(/^VMM: CH API simulator .*stand-in/m);
    expect(started).toMatch(/^templates: none given/m);
    const metricsUrl = /^metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m.exec(started)?.[1];
    expect(metricsUrl).toBeDefined();
    const workerMetrics = await fetch(metricsUrl!);
    expect(workerMetrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await workerMetrics.text()).toMatch(
      /^hangar_worker_info\{host_id="cliw",backend="cloud-hypervisor",stand_in="true"\} 1$/m,
    );

    const dashboard = spawn(['dashboard', '--port', '0', '--json', '--read-only'], {
      HANGAR_DASHBOARD_AUTH: 'ops:secret',
    });
    const { url } = JSON.parse((await waitForOutput(dashboard, /\}\n/)).trim()) as { url: string };
    expect((await fetch(`${url}/api/queues`)).status).toBe(401);
    const response = await fetch(`${url}/api/queues`, {
      headers: { authorization: `Basic ${Buffer.from('ops:secret').toString('base64')}` },
    });
    const body = (await response.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['cliw:batch', 'host-cliw']);
    expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
    // The fleet's metrics ask for the dashboard's credentials too (Prometheus sends basic_auth).
    const fleetMetricsUrl = new URL('/metrics', url);
    expect((await fetch(fleetMetricsUrl)).status).toBe(401);
    const fleetMetrics = await fetch(fleetMetricsUrl, {
      headers: { authorization: `Basic ${Buffer.from('ops:secret').toString('base64')}` },
    });
    expect(await fleetMetrics.text()).toMatch(/^hangar_fleet_hosts\{state="live"\} 1$/m);
    dashboard.kill('SIGTERM');
    expect((await dashboard).exitCode).toBe(0);

    // The transfer flags start its snapshot server, which the heartbeat names and which asks for the key.
    const client = await HangarClient.connect({ redisUrl: TEST_REDIS_URL, keyPrefix });
    try {
      const beat = (await client.hosts()).find((host) => host.hostId === 'cliw');
      expect(beat?.transferUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${beat!.transferUrl}/v1/snapshots/snap-1`)).status).toBe(401);
    } finally {
      await client.close();
    }

    worker.kill('SIGTERM');
    const stopped = await worker;
    expect(stopped.exitCode).toBe(0);
    expect(String(stopped.stdout)).toMatch(/worker stopped; VMs left running/);
    // The warm slot stays (a restart reuses it); the test removes it in afterAll.
    expect((await namespacesWithPrefix(network.prefix)).length).toBeLessThanOrEqual(1);
  }, 60_000);

  it('names the bad worker setting', async () => {
    const result = await execa('node', [HANGAR, 'worker', '--vmm', 'firecracker', '--prefix', keyPrefix], {
      reject: false,
      env: { REDIS_URL: TEST_REDIS_URL },
    });
    expect(result.exitCode).toBe(1);
    expect(String(result.stderr)).toMatch(/^hangar: E_VALIDATION: invalid worker config: vmm: /);
    const badPort = await execa(
      'node',
      [HANGAR, 'worker', '--metrics-port', '70000', '--prefix', keyPrefix],
      {
        reject: false,
        env: { REDIS_URL: TEST_REDIS_URL },
      },
    );
    expect(badPort.exitCode).toBe(1);
    expect(String(badPort.stderr)).toMatch(/^hangar: E_VALIDATION: invalid worker options: --metrics-port: /);
  });
});
