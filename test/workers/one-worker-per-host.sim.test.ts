import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { parseWorkerConfig, type WorkerConfigInput } from '../../src/config/worker-config.ts';
import { ErrorCode } from '../../src/errors/index.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { parseNetworkConfig, removeHostNetwork, sweepNetwork } from '../../src/network/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { HostLedger } from '../../src/state/host-ledger.ts';
import { HostWorker } from '../../src/workers/host-worker.ts';
import { writeTestTemplate } from '../support/fleet.ts';
import { useKillableWorker } from '../support/killable-worker.ts';

// Two networks inside one second octet (10.210), one quarter each for veths and host addresses.
const NETWORK_A = { prefix: 'hgq1a', vethRange: '10.210.0.0/18', hostRange: '10.210.64.0/18', maxSlots: 50 };
const NETWORK_C = {
  prefix: 'hgq1c',
  vethRange: '10.210.128.0/18',
  hostRange: '10.210.192.0/18',
  maxSlots: 50,
};

// The holder runs in a child process (so it can be SIGKILLed); the contenders run in this one,
// so their start() errors can be inspected. A long heartbeat makes the lease outlive a restart.
describe('one worker per host: the state dir lock and the host lease [CH simulator stand-in]', () => {
  const host = useKillableWorker({
    identity: { prefix: 'hgq1', octet: 210, halves: true },
    vmm: 'simulator',
    worker: { hostId: 'hq', heartbeatMs: 10_000, network: NETWORK_A },
  });
  const contenders: HostWorker[] = [];
  const ids: string[] = [];
  let holder: ResultPromise | undefined;

  afterAll(async () => {
    await Promise.allSettled(contenders.map((worker) => worker.stop()));
    const network = parseNetworkConfig(NETWORK_C);
    await sweepNetwork(network, new Set());
    await removeHostNetwork(network);
  }, 60_000);

  const stateDir = () => join(host.dir, 'state');

  // A worker in this process; it is stopped in afterAll whatever happens.
  async function contender(config: WorkerConfigInput): Promise<HostWorker> {
    const templates = await writeTestTemplate(join(host.dir, 'templates-contender'));
    const worker = await HostWorker.create(parseWorkerConfig(config), templates, {
      logger: createLogger({ level: process.env.HANGAR_TEST_LOG ?? 'silent' }),
    });
    contenders.push(worker);
    return worker;
  }

  async function startError(worker: HostWorker): Promise<Error & { code?: string; details?: unknown }> {
    return worker.start().then(
      () => {
        throw new Error(`worker ${worker.config.hostId} on ${worker.config.stateDir} started`);
      },
      (error: Error) => error,
    );
  }

  // The ledger's file and journal, as bytes: a refused worker must not touch either.
  async function ledgerFiles(): Promise<string[]> {
    const path = join(stateDir(), 'ledger.json');
    return Promise.all([path, `${path}.journal`].map((file) => readFile(file, 'utf8').catch(() => '')));
  }

  async function expectSandboxesRunning(): Promise<void> {
    const ledger = await HostLedger.read(join(stateDir(), 'ledger.json'));
    expect(Object.keys(ledger.sandboxes).sort()).toEqual([...ids].sort());
    for (const id of ids) {
      const record = await host.client.get(id);
      expect(record).toMatchObject({ state: 'running', hostId: 'hq' });
      // The VMM is alive (signal 0 only checks).
      expect(() => process.kill(record!.pid!, 0)).not.toThrow();
    }
  }

  it('refuses a second worker for the host id, or on the state dir, naming the holder, and changes nothing', async () => {
    const { client } = host;
    holder = (await host.startWorker()).child;
    for (let i = 0; i < 3; i += 1) {
      const created = await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result();
      ids.push(String(created.sandboxId));
    }
    const ledgerBefore = await ledgerFiles();
    const leaseBefore = await internalsOf(client).store.hosts.leaseOf('hq');
    const holderName = `${hostname()}:${stateDir()}`;
    expect(leaseBefore).toMatchObject({ pid: holder.pid, holder: holderName });

    const sameHost = await startError(await contender(host.config({ stateDir: join(host.dir, 'state-b') })));
    expect(sameHost).toMatchObject({
      code: ErrorCode.Conflict,
      details: { hostId: 'hq', holder: { pid: holder.pid, holder: holderName } },
    });
    expect(sameHost.message).toContain(
      `host hq is held by another worker: pid ${holder.pid} at ${holderName}`,
    );

    const sameDir = await startError(await contender(host.config({ hostId: 'hqx' })));
    expect(sameDir).toMatchObject({ code: ErrorCode.Conflict, details: { stateDir: stateDir() } });
    expect(sameDir.message).toContain(`state dir ${stateDir()} is in use by another worker`);
    expect(sameDir.message).toContain(`"pid":${holder.pid}`);

    expect(await ledgerFiles()).toEqual(ledgerBefore);
    expect(await internalsOf(client).store.hosts.leaseOf('hq')).toEqual(leaseBefore);
    expect(await internalsOf(client).store.hosts.leaseOf('hqx')).toBeUndefined();
    await expectSandboxesRunning();
  });

  it('after a SIGKILL, a new worker on the same state dir takes the lease over at once and re-attaches', async () => {
    const { client } = host;
    const dead = holder!;
    dead.kill('SIGKILL');
    await dead;
    const killedAt = Date.now();
    // The dead worker's lease is still in Redis, for most of its 30 s.
    const stale = await internalsOf(client).store.hosts.leaseOf('hq');
    expect(stale?.pid).toBe(dead.pid);
    const staleTtlMs = await internalsOf(client).store.redis.pttl(
      internalsOf(client).keys.host('hq').lease(),
    );
    expect(staleTtlMs).toBeGreaterThan(15_000);

    holder = (await host.startWorker()).child;
    const tookMs = Date.now() - killedAt;
    console.log(
      `new worker held the host ${tookMs} ms after the kill (stale lease had ${staleTtlMs} ms left)`,
    );
    expect(tookMs).toBeLessThan(staleTtlMs);
    expect(await internalsOf(client).store.hosts.leaseOf('hq')).toMatchObject({ pid: holder.pid });
    expect((await internalsOf(client).store.hosts.leaseOf('hq'))?.token).not.toBe(stale?.token);
    await expectSandboxesRunning();
    // Re-attached, not just republished: the new worker drives the old VMMs.
    expect(await (await client.pause(ids[0]!)).result()).toMatchObject({ state: 'paused' });
    expect(await (await client.resume(ids[0]!)).result()).toMatchObject({ state: 'running' });
  });

  it('stop() gives the lease back: a worker for the host id on another state dir then starts', async () => {
    const { client } = host;
    const stopping = holder!;
    stopping.kill('SIGTERM');
    expect((await stopping).exitCode).toBe(0);
    expect(await internalsOf(client).store.hosts.leaseOf('hq')).toBeUndefined();

    const successor = await contender(
      host.config({ stateDir: join(host.dir, 'state-c'), network: NETWORK_C }),
    );
    await successor.start();
    expect(await internalsOf(client).store.hosts.leaseOf('hq')).toMatchObject({
      pid: process.pid,
      holder: `${hostname()}:${join(host.dir, 'state-c')}`,
    });
    await successor.stop();
    expect(await internalsOf(client).store.hosts.leaseOf('hq')).toBeUndefined();
  });
});
