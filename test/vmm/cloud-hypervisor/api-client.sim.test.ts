import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/errors/index.ts';
import { pollUntil } from '../../../src/util/poll.ts';
import {
  ChApiClient,
  type ChRequestEvent,
  DEFAULT_CH_TIMEOUTS,
} from '../../../src/vmm/cloud-hypervisor/api-client.ts';
import {
  ChApiError,
  isVmNotCreated,
  VmmUnreachableError,
} from '../../../src/vmm/cloud-hypervisor/api-errors.ts';
import { CH_REQUEST_LOG, readChLog } from '../../../src/vmm/cloud-hypervisor/request-log.ts';
import type { VmConfig } from '../../../src/vmm/cloud-hypervisor/schemas/index.ts';
import { type ChSim, startChSim, testVmConfig } from '../../support/ch-sim.ts';

describe('ChApiClient [CH simulator stand-in]', () => {
  let sim: ChSim;

  beforeAll(async () => {
    sim = await startChSim();
  });

  afterAll(async () => {
    await sim?.stop();
  });

  it('reports CH errors as ChApiError with status, endpoint and error chain', async () => {
    const api = new ChApiClient(sim.socketPath);
    try {
      const error = await api.pause().catch((e) => e);
      expect(error).toBeInstanceOf(ChApiError);
      expect(error).toMatchObject({ code: 'E_VMM_API', status: 500, endpoint: 'vm.pause' });
      expect(error.errorChain).toEqual(['Error from API', 'The VM could not be paused', 'VM is not running']);
      expect(isVmNotCreated(error)).toBe(false);
      expect(error.message).toContain('VM is not running');
      const noVm = await api.info().catch((e) => e);
      expect(noVm).toMatchObject({
        status: 404,
        errorChain: ['Error from API', 'The VM info is not available', 'VM is not created'],
      });
      expect(isVmNotCreated(noVm)).toBe(true);
      await api.create(testVmConfig());
      const wrongState = await api.resume().catch((e) => e);
      expect(wrongState).toMatchObject({ status: 500 });
      expect(isVmNotCreated(wrongState)).toBe(false);
      expect(isVmNotCreated(new Error('x'))).toBe(false);
    } finally {
      await api.delete();
      await api.close();
    }
  });

  it('validates request bodies before sending, naming the field', async () => {
    const sent: ChRequestEvent[] = [];
    const api = new ChApiClient(sim.socketPath, { onRequest: (r) => sent.push(r) });
    try {
      const badCpus = { ...testVmConfig(), cpus: { boot_vcpus: 4, max_vcpus: 2 } };
      const error = await api.create(badCpus).catch((e) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.message).toMatch(/cpus\.boot_vcpus/);
      const typo = { ...testVmConfig(), memroy: { size: 1 } } as unknown as VmConfig;
      await expect(api.create(typo)).rejects.toThrow(/memroy/);
      await expect(api.snapshot({ destination_url: '/no/scheme' })).rejects.toThrow(/destination_url/);
      await expect(
        api.restore({ source_url: 'file:///s', memory_restore_mode: 'OnDemand', prefault: true }),
      ).rejects.toThrow(/prefault/);
      await expect(api.resize({})).rejects.toBeInstanceOf(ValidationError);
      await expect(api.addNet({ mac: 'not-a-mac' })).rejects.toThrow(/mac/);
      expect(sent).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('calls onRequest and appends every request to the HANGAR_CH_REQUEST_LOG file', async () => {
    const sent: ChRequestEvent[] = [];
    const api = new ChApiClient(sim.socketPath, { onRequest: (r) => sent.push(r) });
    try {
      const config = testVmConfig({ payload: { kernel: '/nonexistent/vmlinux-request-log-marker' } });
      await api.create(config);
      await api.info();
      expect(sent).toEqual([
        { method: 'PUT', endpoint: 'vm.create', body: config },
        { method: 'GET', endpoint: 'vm.info', body: undefined },
      ]);
      const logPath = process.env[CH_REQUEST_LOG];
      expect(logPath, 'set by test/support/global-setup.ts').toBeDefined();
      const records = await readChLog(logPath!);
      expect(records).toContainEqual({ kind: 'request', method: 'PUT', endpoint: 'vm.create', body: config });
      expect(records.some((r) => r.kind === 'response' && r.endpoint === 'vm.info')).toBe(true);
    } finally {
      await api.delete();
      await api.close();
    }
  });

  it('reads 204 (config only) and 200 with the PCI address (hot-plug) from vm.add-disk and vm.add-net', async () => {
    const own = await startChSim();
    const api = new ChApiClient(own.socketPath);
    try {
      await api.create(testVmConfig());
      expect(await api.addDisk({ path: '/nonexistent/cold.img', id: 'cold' })).toBeUndefined();
      expect(await api.addNet({ tap: 'tap5', id: 'cold-net' })).toBeUndefined();
      await api.boot();
      expect(await api.addDisk({ path: '/nonexistent/hot.img', id: 'hot' })).toMatchObject({ id: 'hot' });
      expect(await api.addNet({ tap: 'tap6', id: 'hot-net' })).toMatchObject({ id: 'hot-net' });
      await expect(api.resizeZone({ id: 'zone0', desired_ram: 1 << 28 })).rejects.toMatchObject({
        status: 500,
        errorChain: [
          'Error from API',
          'The memory zone could not be resized',
          'Failed resizing a memory zone',
        ],
      });
      // vmm.shutdown answers 200 with no body: a success, then the process exits.
      await api.shutdownVmm();
      expect(await own.exited).toEqual({ code: 0, signal: null });
    } finally {
      await api.close();
      await own.stop();
    }
  });

  it('migrates: receiveMigration answers once the VM is in, sendMigration at once; bodies checked first', async () => {
    const receiver = await startChSim();
    const sender = await startChSim({ dir: await mkdtemp(join(receiver.dir, 'sender-')) });
    const rx = new ChApiClient(receiver.socketPath);
    const tx = new ChApiClient(sender.socketPath);
    try {
      await expect(tx.sendMigration({ destination_url: 'file:///x' })).rejects.toBeInstanceOf(
        ValidationError,
      );
      await tx.create(testVmConfig());
      await tx.boot();
      const url = `unix:${join(receiver.dir, 'rx.sock')}`;
      const received = rx.receiveMigration({ receiver_url: url });
      await pollUntil(
        'the receiver to listen',
        async () => (await isSocket(join(receiver.dir, 'rx.sock'))) || undefined,
        {
          timeoutMs: 10_000,
        },
      );
      await tx.sendMigration({ destination_url: url });
      await received;
      expect((await rx.info()).state).toBe('Running');
      expect(await sender.exited).toEqual({ code: 0, signal: null });
    } finally {
      await Promise.allSettled([rx.close(), tx.close()]);
      await sender.stop();
      await receiver.stop();
    }
  });

  it('uses per-kind timeouts; a lone `default` applies to every call', () => {
    const defaults = new ChApiClient(sim.socketPath);
    expect(defaults.timeouts).toEqual(DEFAULT_CH_TIMEOUTS);
    expect(new ChApiClient(sim.socketPath, { timeouts: { default: 300 } }).timeouts).toEqual({
      default: 300,
      boot: 300,
      snapshot: 300,
      restore: 300,
      shutdown: 300,
      migration: 300,
    });
    expect(new ChApiClient(sim.socketPath, { timeouts: { snapshot: 1 } }).timeouts).toEqual({
      ...DEFAULT_CH_TIMEOUTS,
      snapshot: 1,
    });
  });

  it('throws VmmUnreachableError when the socket is missing or nobody listens on it', async () => {
    const missing = new ChApiClient(join(sim.dir, 'nope.sock'));
    const error = await missing.ping().catch((e) => e);
    await missing.close();
    expect(error).toBeInstanceOf(VmmUnreachableError);
    expect(error).toMatchObject({ code: 'E_VMM_UNREACHABLE', endpoint: 'vmm.ping', timedOut: false });
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');

    const dead = await startChSim();
    dead.child.kill('SIGKILL');
    await dead.exited;
    const stale = new ChApiClient(dead.socketPath);
    const refused = await stale.ping().catch((e) => e);
    await stale.close();
    await dead.stop();
    expect(refused).toBeInstanceOf(VmmUnreachableError);
    expect((refused.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('times out a call that never answers (hang-at) as VmmUnreachableError', async () => {
    const hung = await startChSim({ args: ['--sim-fault', 'hang-at=vm.shutdown'] });
    const api = new ChApiClient(hung.socketPath, { timeouts: { default: 250 } });
    try {
      await api.create(testVmConfig());
      const error = await api.shutdown().catch((e) => e);
      expect(error).toBeInstanceOf(VmmUnreachableError);
      expect(error).toMatchObject({ timedOut: true, endpoint: 'vm.shutdown' });
    } finally {
      await api.close();
      await hung.stop();
    }
  });
});

describe('ChApiClient against a misbehaving peer (a raw HTTP server on a Unix socket)', () => {
  let server: Server;
  let peerDir: string;
  let socketPath: string;
  let answer: { status: number; body: string } = { status: 200, body: '' };
  const requestLog = process.env[CH_REQUEST_LOG];

  beforeAll(async () => {
    // This peer answers what the spec forbids on purpose: keep it out of the conformance record.
    delete process.env[CH_REQUEST_LOG];
    peerDir = await mkdtemp(join(tmpdir(), 'hangar-peer-'));
    socketPath = join(peerDir, 'peer.sock');
    server = createServer((_req, res) => {
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(peerDir, { recursive: true, force: true });
    if (requestLog !== undefined) process.env[CH_REQUEST_LOG] = requestLog;
  });

  it('turns a response that breaks the schema into E_VMM_API saying what was wrong', async () => {
    const api = new ChApiClient(socketPath);
    try {
      answer = {
        status: 200,
        body: JSON.stringify({ config: { payload: { kernel: '/k' } }, state: 'Sleeping' }),
      };
      const error = await api.info().catch((e) => e);
      expect(error).toBeInstanceOf(ChApiError);
      expect(error.code).toBe('E_VMM_API');
      expect(error.message).toMatch(/malformed/);
      expect(error.message).toMatch(/state/);
      answer = { status: 200, body: 'not json' };
      await expect(api.ping()).rejects.toThrow(/not JSON/);
      answer = { status: 204, body: '' };
      await expect(api.info()).rejects.toBeInstanceOf(ChApiError);
    } finally {
      await api.close();
    }
  });

  it('accepts what real CH sends: nulls for absent fields and fields it does not model', async () => {
    const api = new ChApiClient(socketPath);
    try {
      const config = {
        cpus: {
          boot_vcpus: 1,
          max_vcpus: 1,
          topology: null,
          kvm_hyperv: false,
          max_phys_bits: 46,
          affinity: null,
        },
        memory: { size: 1 << 28, hotplug_size: null, zones: null, thp: false },
        payload: { firmware: null, kernel: '/k', cmdline: 'console=ttyS0', initramfs: null },
        disks: [{ path: '/d', id: '_disk0', readonly: false, rate_limiter_config: null, pci_segment: 0 }],
        fs: null,
        platform: { num_pci_segments: 1 },
        watchdog: false,
      };
      answer = {
        status: 200,
        body: JSON.stringify({ config, state: 'Running', memory_actual_size: 1 << 28, new_field: 1 }),
      };
      const info = await api.info();
      expect(info.state).toBe('Running');
      expect(info.config.payload.kernel).toBe('/k');
      expect(info.config.cpus).not.toHaveProperty('topology');
      expect(info.config).toHaveProperty('platform', { num_pci_segments: 1 });
    } finally {
      await api.close();
    }
  });

  it('tolerates a plain-text or empty error body', async () => {
    const api = new ChApiClient(socketPath);
    try {
      answer = { status: 500, body: 'internal failure' };
      await expect(api.boot()).rejects.toMatchObject({ status: 500, errorChain: ['internal failure'] });
      answer = { status: 500, body: '' };
      const empty = await api.boot().catch((e) => e);
      expect(empty).toMatchObject({ status: 500, errorChain: [] });
      expect(empty.message).toMatch(/no error body/);
    } finally {
      await api.close();
    }
  });
});

async function isSocket(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isSocket() ?? false;
}
