import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { internalsOf } from '../../src/producer/client-internals.ts';
import { HangarClient } from '../../src/producer/hangar-client.ts';
import { OUTCOME_RECHECK_MS } from '../../src/producer/outcome-waiter.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { startTestFleet, type TestFleet } from '../support/fleet.ts';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis.ts';

const CLIENT_SCRIPT = new URL('../support/client-process.ts', import.meta.url).pathname;

// One private redis-server for the file (AOF, fsync on every write), killed and restarted at will.
let redis: PrivateRedis;
let admin: Redis;

beforeAll(async () => {
  redis = await startPrivateRedis({ appendOnly: true });
  admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  admin.on('error', () => undefined);
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

const privatePrefix = () => `hangar-test-hgq5-${randomBytes(4).toString('hex')}`;
const completed = () => ({
  status: 'completed' as const,
  result: { state: 'paused' },
  at: new Date().toISOString(),
});
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000) =>
  pollUntil(what, probe, { timeoutMs, intervalMs: 25 });

/** How a promise settled within `ms`, or 'pending' (a deadline for a check, not a wait for a condition). */
async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ state: 'resolved'; value: T } | { state: 'rejected'; reason: unknown } | { state: 'pending' }> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<{ state: 'pending' }>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'pending' }), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ state: 'resolved' as const, value }),
        (reason: unknown) => ({ state: 'rejected' as const, reason }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `CLIENT LIST`, one record per connection. */
async function clients(): Promise<Record<string, string>[]> {
  const text = String(await admin.client('LIST'));
  return text
    .trim()
    .split('\n')
    .map((line) =>
      Object.fromEntries(line.split(' ').map((field) => field.split('=', 2) as [string, string])),
    );
}

async function subscribers(channel: string): Promise<number> {
  const [, count] = (await admin.pubsub('NUMSUB', channel)) as [string, number];
  return Number(count);
}

describe('outcomes arrive whatever Redis loses on the way', () => {
  it('a waiting result() resolves from the record once its subscriber reconnects, though nothing was published', async () => {
    const keyPrefix = privatePrefix();
    const client = await HangarClient.connect({ redisUrl: redis.url, keyPrefix });
    try {
      const ref = { jobId: 'pause-sb-1-1-lost', hostId: 'h1', sandboxId: 'sb-1', op: 'pause' };
      const registeredAt = Date.now();
      const waiting = client.handle(ref).result(30_000);
      // Subscribed, and its first read of the record (none yet) done.
      await waitFor('the waiter to subscribe and read', async () =>
        (await subscribers(internalsOf(client).keys.fleet.replyChannel(internalsOf(client).clientId))) ===
          1 && (await clients()).some((c) => c.name === 'hangar-producer' && c.cmd === 'get')
          ? true
          : undefined,
      );
      // The worker's publish is lost: only the record is written.
      await internalsOf(client).store.putOutcome(ref.hostId, ref.jobId, completed());
      expect(Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))).toBeGreaterThanOrEqual(1);
      expect(await waiting).toEqual({ state: 'paused' });
      const tookMs = Date.now() - registeredAt;
      console.log(
        `result() resolved ${tookMs} ms after the wait began (backstop period ${OUTCOME_RECHECK_MS} ms)`,
      );
      // The reconnect re-read it: the slow backstop had not come round yet.
      expect(tookMs).toBeLessThan(OUTCOME_RECHECK_MS);
    } finally {
      await client.close();
    }
  });

  it('a result() asked while Redis is down still rejects on time with E_TIMEOUT', async () => {
    const client = await HangarClient.connect({ redisUrl: redis.url, keyPrefix: privatePrefix() });
    try {
      // This client has never waited, so its subscriber has not subscribed yet.
      await redis.kill();
      const askedAt = Date.now();
      const waiting = client.handle({
        jobId: 'pause-sb-1-1-down',
        hostId: 'h1',
        sandboxId: 'sb-1',
        op: 'pause',
      });
      const answer = await within(waiting.result(1_000), 5_000);
      const tookMs = Date.now() - askedAt;
      console.log(`result(1000) with Redis down answered after ${tookMs} ms`);
      expect(answer).toMatchObject({ state: 'rejected', reason: { code: ErrorCode.Timeout } });
      expect(tookMs).toBeLessThan(3_000);
    } finally {
      if (redis.pid === undefined) await redis.start();
      await client.close();
    }
  });

  it('an events() iterator aborted while Redis is down ends at once, and so does close()', async () => {
    const client = await HangarClient.connect({ redisUrl: redis.url, keyPrefix: privatePrefix() });
    const abort = new AbortController();
    try {
      const reading = (async () => {
        for await (const _ of client.events({ signal: abort.signal, blockMs: 100 })) {
          // Nothing is published: the test is about the reader's read, always in flight.
        }
      })();
      await waitFor('the event reader to block in XREAD', async () =>
        (await clients()).some((c) => c.cmd === 'xread') ? true : undefined,
      );
      await redis.kill();
      // The read in flight now waits in ioredis's queue for a reconnect that disconnect() cancels.
      abort.abort();
      expect(await within(reading, 5_000)).toEqual({ state: 'resolved', value: undefined });
      expect(await within(client.close(), 5_000)).toEqual({ state: 'resolved', value: undefined });
    } finally {
      if (redis.pid === undefined) await redis.start();
      await client.close();
    }
  });

  it('a client whose Redis is SIGKILLed and restarted never prints an unhandled ioredis error', async () => {
    const keyPrefix = privatePrefix();
    const jobId = 'pause-sb-1-1-restart';
    const child = execa(process.execPath, [CLIENT_SCRIPT, redis.url, keyPrefix, jobId], {
      reject: false,
      cleanup: true,
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const count = (line: string) => out.split('\n').filter((said) => said === line).length;
    try {
      await waitFor('the child client to connect', async () => (count('connected') === 1 ? true : undefined));
      await waitFor('its subscriber and event reader', async () =>
        ((await admin.pubsub('CHANNELS', `${keyPrefix}:{fleet}:reply:*`)) as string[]).length === 1 &&
        (await clients()).some((c) => c.cmd === 'xread')
          ? true
          : undefined,
      );
      await redis.kill();
      // Down long enough for every connection to fail a few reconnects.
      await waitFor('the child to fail reads while Redis is down', async () =>
        count('down') >= 5 ? true : undefined,
      );
      await redis.start();
      await waitFor('the child to read again', async () => (count('reconnected') >= 1 ? true : undefined));
      // Its pending wait survived the restart too.
      await admin.set(`${keyPrefix}:{host:h1}:outcome:${jobId}`, JSON.stringify(completed()), 'EX', 60);
      await waitFor('the child result to resolve', async () => (count('resolved') === 1 ? true : undefined));
    } finally {
      if (redis.pid === undefined) await redis.start();
      child.kill('SIGTERM');
    }
    const result = await child;
    expect(String(result.stderr)).not.toMatch(/Unhandled error event/);
    expect(out).not.toMatch(/events-error|result-error/);
    // On failure this shows how far the child's close got (it reports each step on stderr).
    expect({ exitCode: result.exitCode, signal: result.signal, stderr: result.stderr }).toMatchObject({
      exitCode: 0,
    });
    await admin.del(`${keyPrefix}:{host:h1}:outcome:${jobId}`);
  });
});

// A worker and its client on the private Redis; a snapshot takes 2 s in the simulator.
describe('a job completes while Redis restarts mid-job [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['d1'],
      network: { prefix: 'hgq5', octet: 228, halves: true },
      redisUrl: redis.url,
      worker: { poolSize: 0, vmmEnv: { HANGAR_SIM_LATENCY: 'snapshot=2000' } },
    });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('result() resolves after a SIGKILL and an AOF restart of Redis during the snapshot', async () => {
    const { client } = fleet;
    const id = String(
      (await (await client.create({ template: 'base', vcpus: 1, memoryMib: 128 })).result()).sandboxId,
    );
    const snapshot = await client.snapshot(id, { snapshotId: 'snap-redis-restart' });
    const result = snapshot.result(60_000);
    await waitFor('the snapshot to be writing memory', async () => {
      const job = await internalsOf(client).submitter.queueFor('d1').getJob(snapshot.jobId);
      return (job?.progress as { step?: string } | undefined)?.step === 'memory' ? true : undefined;
    });
    const killedPid = redis.pid;
    await redis.kill();
    await redis.start();
    expect(redis.pid).not.toBe(killedPid);
    expect(await result).toMatchObject({ snapshotId: 'snap-redis-restart', sandboxId: id });
    expect((await client.get(id))?.state).toBe('running');
    expect(await (await client.destroy(id)).result(30_000)).toMatchObject({ state: 'destroyed' });
  }, 60_000);
});
