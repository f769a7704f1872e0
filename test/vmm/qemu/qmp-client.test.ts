import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../../src/errors/index.ts';
import { VmmUnreachableError } from '../../../src/vmm/cloud-hypervisor/api-errors.ts';
import { launchDetached, terminate, type VmmProcess, waitReady } from '../../../src/vmm/process/index.ts';
import { findQemuBinary } from '../../../src/vmm/qemu/qemu-backend.ts';
import { QmpClient } from '../../../src/vmm/qemu/qmp-client.ts';
import { QmpError, QmpUnreachableError } from '../../../src/vmm/qemu/qmp-errors.ts';
import type { QmpEvent } from '../../../src/vmm/qemu/qmp-schemas.ts';
import { bareQemuArgv } from '../../support/bare-qemu.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';

const qemu = await findQemuBinary();

// A QEMU with no machine at all: QMP works (status, stop, cont) without booting anything.
describe.skipIf(qemu === undefined)('QmpClient against a real QEMU (-machine none)', () => {
  let temp: TempDir;
  let proc: VmmProcess;
  let socket: string;

  beforeAll(async () => {
    temp = await makeTempDir('hangar-qmp-');
    socket = join(temp.path, 'qmp.sock');
    proc = await launchDetached({
      argv: bareQemuArgv(qemu!, socket),
      outputPath: join(temp.path, 'qemu.out'),
      pidfilePath: join(temp.path, 'qemu.pid'),
      identity: socket,
    });
    await waitReady(
      proc,
      async () => {
        await (await QmpClient.connect(socket, { connectTimeoutMs: 500 })).close();
        return true;
      },
      { timeoutMs: 10_000 },
    );
  });

  afterAll(async () => {
    if (proc !== undefined) await terminate(proc, { termGraceMs: 2_000, killGraceMs: 2_000 });
    await temp?.remove();
  });

  async function session<T>(work: (qmp: QmpClient) => Promise<T>): Promise<T> {
    const qmp = await QmpClient.connect(socket);
    try {
      return await work(qmp);
    } finally {
      await qmp.close();
    }
  }

  it('negotiates capabilities and reads the version from the greeting', async () => {
    const { stdout } = await execa(qemu!, ['--version']);
    await session(async (qmp) => {
      expect(stdout).toContain(`version ${qmp.version}`);
      expect(await qmp.queryStatus()).toMatchObject({ status: 'running', running: true });
    });
  });

  it('stops and continues, delivering STOP and RESUME events', async () => {
    await session(async (qmp) => {
      const events: QmpEvent[] = [];
      qmp.onEvent((event) => events.push(event));
      await qmp.execute('stop');
      expect(await qmp.queryStatus()).toMatchObject({ status: 'paused', running: false });
      await qmp.execute('cont');
      expect((await qmp.queryStatus()).status).toBe('running');
      expect(events.map((event) => event.event)).toEqual(['STOP', 'RESUME']);
      expect(events[0]?.timestamp.seconds).toBeGreaterThan(0);
    });
  });

  it('types an error reply: QMP class and desc, code E_VMM_API', async () => {
    await session(async (qmp) => {
      const error = await qmp.execute('no-such-command').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QmpError);
      expect(error).toMatchObject({
        code: 'E_VMM_API',
        command: 'no-such-command',
        errorClass: 'CommandNotFound',
      });
      expect((error as QmpError).desc).toContain('no-such-command');
      // The session survives an error.
      expect((await qmp.queryStatus()).running).toBe(true);
    });
  });

  it('times out a call whose answer does not come in time (a second client waits unanswered)', async () => {
    await session(async () => {
      // QEMU serves one QMP client at a time: a second connection gets no greeting.
      const second = await QmpClient.connect(socket, { connectTimeoutMs: 300 }).catch((e: unknown) => e);
      expect(second).toBeInstanceOf(QmpUnreachableError);
      expect(second).toMatchObject({ code: 'E_VMM_UNREACHABLE', timedOut: true });
    });
    await session(async (qmp) => {
      // A stopped QEMU (SIGSTOP) cannot answer: the call must end at its deadline.
      process.kill(proc.pid, 'SIGSTOP');
      let error: unknown;
      try {
        error = await qmp.execute('query-status', undefined, { timeoutMs: 300 }).catch((e: unknown) => e);
      } finally {
        process.kill(proc.pid, 'SIGCONT');
      }
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error).toMatchObject({
        code: 'E_TIMEOUT',
        details: { command: 'query-status', timeoutMs: 300 },
      });
      // The late reply to the timed-out call is dropped; the next call gets its own answer.
      expect(await qmp.queryStatus()).toMatchObject({ status: 'running' });
    });
  });

  it('reports a missing socket as unreachable (a VmmUnreachableError, like CH)', async () => {
    const error = await QmpClient.connect(join(temp.path, 'absent.sock')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VmmUnreachableError);
    expect(error).toMatchObject({ code: 'E_VMM_UNREACHABLE', timedOut: false });
    expect((error as Error).message).toMatch(/^QMP connect failed: .*ENOENT/);
  });

  it('fails calls in flight when QEMU goes away (quit), then refuses new ones', async () => {
    const qmp = await QmpClient.connect(socket);
    const events: string[] = [];
    qmp.onEvent((event) => events.push(event.event));
    proc.expectExit();
    await qmp.execute('quit');
    expect(await proc.waitForExit(5_000)).toBe(true);
    await expect(qmp.queryStatus()).rejects.toBeInstanceOf(QmpUnreachableError);
    expect(qmp.closed).toBe(true);
    expect(events).toContain('SHUTDOWN');
  });
});
