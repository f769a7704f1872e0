import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../../src/dashboard/index.ts';
import { ErrorCode } from '../../src/errors/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { HangarClient } from '../../src/producer/hangar-client.ts';
import { BATCH_QUEUE, GROUP_QUEUE, hostPrefix, hostQueueName } from '../../src/queues/names.ts';
import { parseJobKey } from '../../src/signing/job-key.ts';
import { queueAddress, signJobData } from '../../src/signing/job-signature.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';
import { finishedJob } from '../support/jobs.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

const HOST = 'sg1';
const KEY = randomBytes(32).toString('hex');
const OTHER_KEY = randomBytes(32).toString('base64');

describe('signed jobs: a worker with a job key runs only jobs signed with it [CH simulator stand-in]', () => {
  let fleet: TestFleet;
  let keyDir: TempDir;
  let queue: Queue;
  const clients: HangarClient[] = [];
  const dashboards: Dashboard[] = [];
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    keyDir = await makeTempDir('hangar-signed-');
    const jobKeyFile = join(keyDir.path, 'job-key');
    await writeFile(jobKeyFile, `${KEY}\n`, { mode: 0o600 });
    const logger = pino({ level: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line)) });
    fleet = await startTestFleet({
      hosts: [HOST],
      network: { prefix: 'hgsg', octet: 136 },
      // The workers read the key from their config's key file; the client is given the same key.
      worker: { jobKeyFile },
      client: { jobKey: KEY },
      logger,
    });
    queue = internalsOf(fleet.client).submitter.queueFor(HOST);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(dashboards.map((dashboard) => dashboard.close()));
    await Promise.allSettled(clients.map((client) => client.close()));
    await fleet?.stop();
    await keyDir?.remove();
  }, 60_000);

  const clientWith = async (jobKey?: string) => {
    const client = await HangarClient.connect({
      redisUrl: fleet.workers[0]!.config.redisUrl,
      keyPrefix: fleet.keyPrefix,
      ...(jobKey === undefined ? {} : { jobKey }),
    });
    clients.push(client);
    return client;
  };

  const worker = () => fleet.workers.at(-1)!;

  /** Nothing of the sandbox on the host: no ledger entry, no VMM runtime dir. */
  const untouched = (sandboxId: string) => {
    expect(worker().ctx.ledger.get(sandboxId)).toBeUndefined();
    expect(existsSync(worker().ctx.paths.runtimeDir(sandboxId))).toBe(false);
  };

  const refusals = (jobId: string) =>
    logLines.filter((line) => line.msg === 'job refused' && line.jobId === jobId);

  it('says at start that it checks signatures, and runs the jobs its client signed', async () => {
    expect(logLines.some((line) => line.msg === 'jobs must be signed with the job key')).toBe(true);
    const created = await (
      await fleet.client.create({ template: 'base', vcpus: 1, memoryMib: 128 })
    ).result();
    await (await fleet.client.pause(created.sandboxId)).result();
    await (await fleet.client.resume(created.sandboxId)).result();
    await (await fleet.client.destroy(created.sandboxId)).result();
    expect(await fleet.client.get(created.sandboxId)).toMatchObject({ state: 'destroyed' });
  });

  it('fails a job from a client without the key with E_UNSIGNED at once, before any step, records it and logs it', async () => {
    const unsigned = await clientWith();
    const handle = await unsigned.create({
      template: 'base',
      vcpus: 1,
      memoryMib: 128,
      sandboxId: 'sb-sg-nokey',
    });
    await expect(handle.result(15_000)).rejects.toMatchObject({
      code: ErrorCode.Unsigned,
      message: expect.stringMatching(/is not signed: this worker runs only jobs signed with its job key/),
    });
    const job = await finishedJob(queue, handle.jobId);
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsStarted).toBe(1);
    expect(job.failedReason).toMatch(/^E_UNSIGNED: /);
    untouched('sb-sg-nokey');
    const [logged] = refusals(handle.jobId);
    expect(logged).toMatchObject({ level: 40, code: 'E_UNSIGNED', name: 'create', hostId: HOST });
  });

  it('fails a job signed with another key with E_UNSIGNED naming both key ids; the sandbox stays as it was', async () => {
    const created = await (
      await fleet.client.create({ template: 'base', vcpus: 1, memoryMib: 128 })
    ).result();
    const other = await clientWith(OTHER_KEY);
    const handle = await other.pause(created.sandboxId);
    await expect(handle.result(15_000)).rejects.toMatchObject({
      code: ErrorCode.Unsigned,
      message: `job ${handle.jobId} (pause) is signed with another job key (id ${parseJobKey(OTHER_KEY).keyId}; this worker's is ${parseJobKey(KEY).keyId})`,
    });
    expect(worker().ctx.ledger.get(created.sandboxId)?.state).toBe('running');
    // The refused job's place passes with its recorded outcome: the next signed job runs.
    await (await fleet.client.pause(created.sandboxId)).result();
    expect(worker().ctx.ledger.get(created.sandboxId)?.state).toBe('paused');
    await (await fleet.client.destroy(created.sandboxId)).result();
  });

  it('refuses signed data replayed under another job id, and a forged batch parent', async () => {
    const key = parseJobKey(KEY);
    const prefix = hostPrefix(fleet.keyPrefix, HOST);
    const data = {
      payload: { op: 'destroy', sandboxId: 'sb-sg-replay' },
      seq: 1,
      requestedAt: new Date().toISOString(),
    };
    const signed = signJobData(
      key,
      {
        queue: queueAddress(prefix, hostQueueName(HOST)),
        jobId: 'destroy-sb-sg-replay-1-aaaa',
        name: 'destroy',
      },
      data,
    );
    await queue.add('destroy', signed, { jobId: 'destroy-sb-sg-replay-1-bbbb' });
    const replayed = await finishedJob(queue, 'destroy-sb-sg-replay-1-bbbb');
    expect(replayed.failedReason).toMatch(/^E_UNSIGNED: .*signature does not match/);

    // A parent on the batch queue gives a host's part of a batch's result: unsigned, it gives nothing.
    const batches = new Queue(BATCH_QUEUE, { connection: internalsOf(fleet.client).store.redis, prefix });
    try {
      const forged = await batches.add('snapshot-batch', {
        batchId: 'forged',
        total: 1,
        concurrencyPerHost: 1,
      });
      const failed = await finishedJob(batches, forged.id!);
      expect(failed.failedReason).toMatch(/^E_UNSIGNED: job .* \(snapshot-batch\) is not signed/);
      expect(await internalsOf(fleet.client).store.batches.get('forged')).toBeUndefined();
    } finally {
      await batches.close();
    }
    // A signed batch runs: its parent and its snapshot children pass the check.
    const created = await (
      await fleet.client.create({ template: 'base', vcpus: 1, memoryMib: 128 })
    ).result();
    const batch = await fleet.client.snapshotBatch([created.sandboxId]);
    expect(await batch.parent.result(20_000)).toMatchObject({ failures: [] });
    await (await fleet.client.destroy(created.sandboxId)).result();
  });

  it('group snapshots: a signed group runs; a forged coordinator job or a changed member list is refused', async () => {
    const created = await (
      await fleet.client.create({ template: 'base', vcpus: 1, memoryMib: 128 })
    ).result();
    const group = await fleet.client.snapshotGroup([created.sandboxId]);
    expect(await group.result.result(20_000)).toMatchObject({ groupId: group.groupId });

    const { store } = internalsOf(fleet.client);
    const prefix = hostPrefix(fleet.keyPrefix, HOST);
    const groups = new Queue(GROUP_QUEUE, { connection: store.redis, prefix });
    try {
      // A coordinator job nobody signed, for a group record anyone with Redis could write.
      await store.groups.create({
        groupId: 'forged-group',
        members: [
          { sandboxId: created.sandboxId, hostId: HOST, snapshotId: 'forged-snap', prior: 'running' },
        ],
        state: 'taking',
        createdAt: new Date().toISOString(),
      });
      const forged = await groups.add(
        'snapshot-group',
        { groupId: 'forged-group' },
        { jobId: 'group-forged-group' },
      );
      expect((await finishedJob(groups, forged.id!)).failedReason).toMatch(/E_UNSIGNED|is not signed/);
      expect(await store.getSnapshot('forged-snap')).toBeUndefined();

      // A signed group whose record gained a member after it was signed.
      const other = await (
        await fleet.client.create({ template: 'base', vcpus: 1, memoryMib: 128 })
      ).result();
      const signedData = internalsOf(fleet.client).submitter.signed(
        { hostId: HOST, queue: GROUP_QUEUE, jobId: 'group-grown', name: 'snapshot-group' },
        { groupId: 'grown', members: [{ sandboxId: created.sandboxId, snapshotId: 'grown-a' }] },
      );
      await store.groups.create({
        groupId: 'grown',
        members: [
          { sandboxId: created.sandboxId, hostId: HOST, snapshotId: 'grown-a', prior: 'running' },
          { sandboxId: other.sandboxId, hostId: HOST, snapshotId: 'grown-b', prior: 'running' },
        ],
        state: 'taking',
        createdAt: new Date().toISOString(),
      });
      await groups.add('snapshot-group', signedData, { jobId: 'group-grown' });
      expect((await finishedJob(groups, 'group-grown')).failedReason).toMatch(/members differ/);
      expect(await store.getSnapshot('grown-b')).toBeUndefined();
      await (await fleet.client.destroy(other.sandboxId)).result();
    } finally {
      await groups.close();
    }
    await (await fleet.client.destroy(created.sandboxId)).result();
  });

  it('Bull Board: an added job has no signature and is refused; a retry of a signed job keeps its signature and runs', async () => {
    const dashboard = await startDashboard({
      redisUrl: worker().config.redisUrl,
      keyPrefix: fleet.keyPrefix,
      port: 0,
      allowActions: true,
    });
    dashboards.push(dashboard);
    const api = `${dashboard.url}/admin/queues/api/queues/${hostQueueName(HOST)}`;

    // "Add job" in Bull Board: well-formed data, but nobody signed it.
    const added = await fetch(`${api}/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'create',
        data: {
          payload: { op: 'create', sandboxId: 'sb-sg-board', template: 'base', vcpus: 1, memoryMib: 128 },
          seq: 1,
          requestedAt: new Date().toISOString(),
        },
      }),
    });
    expect(added.status).toBe(200);
    const { job } = (await added.json()) as { job: { id: string } };
    const refused = await finishedJob(queue, job.id);
    expect(refused.failedReason).toMatch(/^E_UNSIGNED: .*is not signed/);
    expect(await internalsOf(fleet.client).store.getOutcome(HOST, job.id)).toMatchObject({
      status: 'failed',
      error: { code: 'E_UNSIGNED' },
    });
    untouched('sb-sg-board');

    // An added job that takes the id of a job that completed (BullMQ dropped it) cannot
    // overwrite that job's outcome.
    const real = await fleet.client.create({ template: 'base', vcpus: 1, memoryMib: 128 });
    await real.result();
    const reused = await fetch(`${api}/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'destroy', data: { forged: true }, options: { jobId: real.jobId } }),
    });
    expect(((await reused.json()) as { job: { id: string } }).job.id).toBe(real.jobId);
    expect((await finishedJob(queue, real.jobId)).failedReason).toMatch(/^E_VALIDATION: /);
    expect(await internalsOf(fleet.client).store.getOutcome(HOST, real.jobId)).toMatchObject({
      status: 'completed',
    });
    await (await fleet.client.destroy(real.sandboxId)).result();

    // A signed job that failed: the host's worker came up with the wrong key.
    await worker().stop();
    await fleet.startWorker(HOST, {}, { jobKey: OTHER_KEY });
    const handle = await fleet.client.create({
      template: 'base',
      vcpus: 1,
      memoryMib: 128,
      sandboxId: 'sb-sg-retry',
    });
    await expect(handle.result(15_000)).rejects.toMatchObject({ code: ErrorCode.Unsigned });
    const failed = await finishedJob(queue, handle.jobId);
    expect(failed.data.sig).toMatchObject({ alg: 'hmac-sha256', keyId: parseJobKey(KEY).keyId });
    untouched('sb-sg-retry');

    // Fixed (the right key again), the operator retries the job in Bull Board: same data, so
    // the same signature, and it runs.
    await worker().stop();
    await fleet.startWorker(HOST);
    const retried = await fetch(`${api}/${handle.jobId}/retry`, { method: 'PUT' });
    expect(retried.status).toBe(204);
    const result = await pollUntil(
      'the retried create to complete',
      async () => {
        const outcome = await internalsOf(fleet.client).store.getOutcome(HOST, handle.jobId);
        return outcome?.status === 'completed' ? outcome : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(result.result).toMatchObject({ sandboxId: 'sb-sg-retry', state: 'running' });
    expect(worker().ctx.ledger.get('sb-sg-retry')?.state).toBe('running');
    await (await fleet.client.destroy('sb-sg-retry')).result();
  });
});
