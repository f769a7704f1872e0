import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { HangarClient } from '../../src/producer/hangar-client.ts';
import { snapshotPath } from '../../src/transfer/transfer-client.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { collectSnapshotGarbage } from '../../src/workers/snapshot-gc.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';

const KEY = randomBytes(32).toString('hex');
const HANGAR = fileURLToPath(new URL('../../bin/hangar.ts', import.meta.url));
const CPU = { model: 'Test CPU', flags: ['fpu', 'sse2', 'avx2'] };

// Three hosts on this machine, each with its own state dir, network range and transfer port.
describe('snapshots move between hosts: fetch, export, import [CH simulator stand-in]', () => {
  let fleet: TestFleet;
  const clients: HangarClient[] = [];

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['mv1', 'mv2', 'mv3'],
      network: { prefix: 'hgmv', octet: 108, halves: true },
      worker: { poolSize: 1, cpu: CPU, transfer: { port: 0, listen: '127.0.0.1' } },
      jobKey: KEY,
      client: { jobKey: KEY },
    });
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await fleet?.stop();
  }, 90_000);

  const worker = (hostId: string) => fleet.workers.findLast((w) => w.config.hostId === hostId)!;

  const snapshotOn = async (hostId: string, snapshotId: string) => {
    const { client } = fleet;
    // Placement picks the host with the most free memory: the sandboxes that land elsewhere
    // stay until one lands on the wanted host, so each create goes to another host.
    const elsewhere: string[] = [];
    try {
      for (;;) {
        const sandbox = await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result();
        if (sandbox.hostId === hostId) {
          await (await client.snapshot(sandbox.sandboxId, { snapshotId })).result();
          return sandbox.sandboxId;
        }
        if (elsewhere.length > 3) throw new Error(`no create lands on ${hostId}`);
        elsewhere.push(sandbox.sandboxId);
      }
    } finally {
      for (const id of elsewhere) await (await client.destroy(id)).result();
    }
  };

  it('restores on another host, which fetches the snapshot once (checksummed) and keeps a copy', async () => {
    const { client } = fleet;
    const source = await snapshotOn('mv1', 'move-snap-1');
    const before = worker('mv1').transfer!.bytes.sent;
    const moved = await (await client.restore('move-snap-1', { hostId: 'mv2' })).result();
    expect(moved).toMatchObject({ hostId: 'mv2', state: 'running' });
    expect(worker('mv2').ctx.ledger.get(moved.sandboxId)?.state).toBe('running');
    expect(worker('mv2').ctx.ledger.hasSnapshot('move-snap-1')).toBe(true);
    const sent = worker('mv1').transfer!.bytes.sent - before;
    const record = (await client.getSnapshot('move-snap-1'))!;
    // The home stays: the record still names mv1; mv2 holds a copy.
    expect(record.hostId).toBe('mv1');
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(record.memoryBytes + record.diskBytes + 64 * 1024);
    // A second restore there uses the copy: nothing more is sent.
    const again = await (await client.restore('move-snap-1', { hostId: 'mv2' })).result();
    expect(again.hostId).toBe('mv2');
    expect(worker('mv1').transfer!.bytes.sent - before).toBe(sent);
    for (const id of [source, moved.sandboxId, again.sandboxId]) await (await client.destroy(id)).result();
  });

  it('deleting the snapshot at its home removes the copies at their next collection, never republishing them', async () => {
    const { client } = fleet;
    const source = await snapshotOn('mv1', 'move-snap-2');
    const moved = await (await client.restore('move-snap-2', { hostId: 'mv3' })).result();
    expect(worker('mv3').ctx.ledger.hasSnapshot('move-snap-2')).toBe(true);
    await (await client.deleteSnapshot('move-snap-2')).result();
    const report = await collectSnapshotGarbage(worker('mv3').ctx);
    expect(report.removedCopies).toEqual(['move-snap-2']);
    expect(report.republished).toEqual([]);
    expect(await client.getSnapshot('move-snap-2')).toBeUndefined();
    expect(worker('mv3').ctx.ledger.hasSnapshot('move-snap-2')).toBe(false);
    await expect(access(worker('mv3').ctx.paths.snapshotDir('move-snap-2'))).rejects.toThrow();
    for (const id of [source, moved.sandboxId]) await (await client.destroy(id)).result();
  });

  it('refuses, before anything is enqueued, a move to a host whose CPU lacks a flag; elsewhere picks a compatible one', async () => {
    const { client } = fleet;
    const source = await snapshotOn('mv1', 'move-snap-3');
    await worker('mv3').stop();
    await fleet.startWorker('mv3', { cpu: { model: 'Older CPU', flags: ['fpu', 'sse2'] } });
    const refused = await client.restore('move-snap-3', { hostId: 'mv3' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: ErrorCode.Incompatible });
    expect((refused as Error).message).toMatch(/host mv3: its CPU lacks avx2/);
    const elsewhere = await (await client.restore('move-snap-3', { elsewhere: true })).result();
    expect(elsewhere.hostId).toBe('mv2');
    await worker('mv3').stop();
    await fleet.startWorker('mv3');
    for (const id of [source, elsewhere.sandboxId]) await (await client.destroy(id)).result();
    await (await client.deleteSnapshot('move-snap-3')).result();
  });

  it('exports an archive and imports it on another host under a new id; a repeat is already, a taken id a conflict', async () => {
    const { client } = fleet;
    const source = await snapshotOn('mv1', 'move-snap-4');
    const { archive, snapshot } = await client.exportSnapshot('move-snap-4');
    const chunks: Buffer[] = [];
    for await (const chunk of archive) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    expect(snapshot.hostId).toBe('mv1');

    const once = async function* () {
      yield bytes;
    };
    const imported = await client.importSnapshot(once(), { hostId: 'mv2', snapshotId: 'move-snap-4b' });
    expect(imported).toMatchObject({
      outcome: 'done',
      archiveBytes: bytes.length,
      snapshot: { snapshotId: 'move-snap-4b', hostId: 'mv2', sandboxId: snapshot.sandboxId },
    });
    expect(await client.getSnapshot('move-snap-4b')).toMatchObject({ hostId: 'mv2' });
    const repeat = await client.importSnapshot(once(), { hostId: 'mv2', snapshotId: 'move-snap-4b' });
    expect(repeat.outcome).toBe('already');
    const taken = await client.importSnapshot(once(), { hostId: 'mv3' }).catch((e: unknown) => e);
    expect(taken).toMatchObject({ code: ErrorCode.Conflict });
    expect(worker('mv3').ctx.ledger.hasSnapshot('move-snap-4')).toBe(false);

    const restored = await (await client.restore('move-snap-4b')).result();
    expect(restored.hostId).toBe('mv2');
    for (const id of [source, restored.sandboxId]) await (await client.destroy(id)).result();
    for (const id of ['move-snap-4', 'move-snap-4b']) await (await client.deleteSnapshot(id)).result();
  });

  it('serves nothing without the job key: no header, another key, or a client without a key', async () => {
    const url = worker('mv1').transfer!.url;
    const path = snapshotPath('move-snap-x');
    const bare = await request(new URL(path, url));
    expect(bare.statusCode).toBe(401);
    expect(await bare.body.json()).toMatchObject({ code: ErrorCode.Unsigned });

    const keyless = await HangarClient.connect({
      redisUrl: worker('mv1').config.redisUrl,
      keyPrefix: fleet.keyPrefix,
    });
    clients.push(keyless);
    const source = await snapshotOn('mv1', 'move-snap-5');
    expect(await keyless.exportSnapshot('move-snap-5').catch((e: unknown) => e)).toMatchObject({
      code: ErrorCode.Unsigned,
    });
    const wrongKey = await HangarClient.connect({
      redisUrl: worker('mv1').config.redisUrl,
      keyPrefix: fleet.keyPrefix,
      jobKey: randomBytes(32).toString('hex'),
    });
    clients.push(wrongKey);
    const refused = await wrongKey.exportSnapshot('move-snap-5').catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: ErrorCode.Unsigned });
    expect((refused as Error).message).toMatch(/authorization does not match/);
    await (await fleet.client.destroy(source)).result();
    await (await fleet.client.deleteSnapshot('move-snap-5')).result();
  });

  it('keeps no archive that lacks the key’s MAC: a forged heartbeat pointing at another server moves nothing', async () => {
    const { client } = fleet;
    const source = await snapshotOn('mv1', 'move-snap-8');
    // A well-formed archive of the very snapshot, checksum and all, but served without the MAC.
    const chunks: Buffer[] = [];
    for await (const chunk of (await client.exportSnapshot('move-snap-8')).archive)
      chunks.push(chunk as Buffer);
    const rogue = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/vnd.hangar.snapshot' });
      response.end(Buffer.concat(chunks));
    });
    await new Promise<void>((resolve) => rogue.listen(0, '127.0.0.1', resolve));
    const rogueUrl = `http://127.0.0.1:${(rogue.address() as AddressInfo).port}`;
    const home = worker('mv1');
    const honest = home.ctx.transferUrl;
    try {
      // What a Redis writer could do: the home's heartbeat names another server.
      home.ctx.transferUrl = rogueUrl;
      await pollUntil(
        'the heartbeat to name the other server',
        async () =>
          (await client.hosts()).find((h) => h.hostId === 'mv1')?.transferUrl === rogueUrl ? true : undefined,
        { timeoutMs: 10_000 },
      );
      const refused = await (await client.restore('move-snap-8', { hostId: 'mv2' }))
        .result(30_000)
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: ErrorCode.Transfer });
      expect((refused as Error).message).toMatch(/not signed with this fleet's job key \(no MAC\)/);
      expect(worker('mv2').ctx.ledger.hasSnapshot('move-snap-8')).toBe(false);
      await expect(access(worker('mv2').ctx.paths.snapshotDir('move-snap-8'))).rejects.toThrow();
    } finally {
      home.ctx.transferUrl = honest;
      await new Promise((resolve) => rogue.close(resolve));
    }
    await (await client.destroy(source)).result();
    await (await client.deleteSnapshot('move-snap-8')).result();
  });

  it('a fetch that cannot reach the home fails with E_TRANSFER and leaves nothing; once the home serves again, a restore moves it', async () => {
    const { client } = fleet;
    const source = await snapshotOn('mv1', 'move-snap-6');
    // The home's transfer server closes while its heartbeat still names it: every attempt fails.
    await worker('mv1').transfer!.close();
    const failed = await (await client.restore('move-snap-6', { hostId: 'mv2' }))
      .result(30_000)
      .catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: ErrorCode.Transfer });
    const target = worker('mv2').ctx;
    expect(target.ledger.hasSnapshot('move-snap-6')).toBe(false);
    await expect(access(target.paths.snapshotDir('move-snap-6'))).rejects.toThrow();
    await expect(access(`${target.paths.snapshotDir('move-snap-6')}.partial`)).rejects.toThrow();
    expect(target.ledger.entries().filter((entry) => entry.fromSnapshot === 'move-snap-6')).toEqual([]);

    await worker('mv1').stop();
    await fleet.startWorker('mv1');
    const restored = await (await client.restore('move-snap-6', { hostId: 'mv2' })).result(30_000);
    expect(restored.hostId).toBe('mv2');
    for (const id of [source, restored.sandboxId]) await (await client.destroy(id)).result();
    await (await client.deleteSnapshot('move-snap-6')).result();
  });

  it('the CLI: snapshot export to a file, import on another host, restore --host', async () => {
    const source = await snapshotOn('mv1', 'move-snap-7');
    const file = join(fleet.dir.path, 'move-snap-7.hgs');
    const hangar = async (...args: string[]) => {
      const result = await execa('node', [HANGAR, ...args, '--prefix', fleet.keyPrefix], {
        reject: false,
        timeout: 60_000,
        env: { REDIS_URL: worker('mv1').config.redisUrl, HANGAR_JOB_KEY: KEY },
      });
      return { code: result.exitCode, out: String(result.stdout), err: String(result.stderr) };
    };
    const exported = await hangar('snapshot', 'export', 'move-snap-7', '--output', file);
    expect(exported).toMatchObject({
      code: 0,
      err: expect.stringMatching(/move-snap-7 \(from host mv1\) written to/),
    });
    const imported = await hangar(
      'snapshot',
      'import',
      file,
      '--host',
      'mv3',
      '--snapshot-id',
      'move-snap-7b',
    );
    expect(imported.out).toMatch(/^snapshot move-snap-7b is now on host mv3 /);
    expect(await fleet.client.getSnapshot('move-snap-7b')).toMatchObject({ hostId: 'mv3' });
    const restored = await hangar('restore', 'move-snap-7', '--host', 'mv2', '--wait', '--json');
    const result = JSON.parse(restored.out) as { result: { hostId: string; sandboxId: string } };
    expect(result.result.hostId).toBe('mv2');
    for (const id of [source, result.result.sandboxId]) await (await fleet.client.destroy(id)).result();
    for (const id of ['move-snap-7', 'move-snap-7b']) await (await fleet.client.deleteSnapshot(id)).result();
  });
});
