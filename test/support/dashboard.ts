import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { hostPrefix, hostQueueName, KeySpace } from '../../src/queues/names.ts';
import { FleetStore } from '../../src/state/fleet-store.ts';
import type { HostHeartbeatInput } from '../../src/state/record-schemas.ts';

/** A heartbeat for a stand-in host, so the dashboard puts its queue on the board. */
export function heartbeat(hostId: string): HostHeartbeatInput {
  const now = new Date().toISOString();
  return {
    hostId,
    backend: { kind: 'cloud-hypervisor', standIn: true, description: 'CH API simulator (stand-in)' },
    capacity: { vcpus: 8, memoryMib: 8192, slots: 10 },
    used: { vcpus: 0, memoryMib: 0, slots: 0 },
    templates: ['base'],
    startedAt: now,
    at: now,
  };
}

/**
 * Registers a stand-in host as its worker's heartbeat would (with a lease of its own), so
 * the dashboard puts the host's queue on the board.
 */
export async function registerHost(redis: Redis, keyPrefix: string, hostId: string): Promise<void> {
  const lease = {
    token: `test-${hostId}`,
    holder: `test:${hostId}`,
    pid: process.pid,
    since: new Date().toISOString(),
  };
  await new FleetStore(redis, new KeySpace(keyPrefix)).hosts.beat(heartbeat(hostId), 60_000, lease, 60_000);
}

/** An HTTP basic auth header. */
export function authHeader(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** A registered host's queue holding one job in each state an action would change. */
export interface SeededQueue {
  queue: Queue;
  name: string;
  ids: { waiting: string; failed: string; delayed: string };
}

/**
 * Registers `hostId` and fills its queue with a failed, a waiting and a delayed job. The failed
 * one is taken and failed by hand (Worker.getNextJob), so no processor runs and nothing waits.
 */
export async function seedHostQueue(redis: Redis, keyPrefix: string, hostId: string): Promise<SeededQueue> {
  await registerHost(redis, keyPrefix, hostId);
  const name = hostQueueName(hostId);
  const prefix = hostPrefix(keyPrefix, hostId);
  const queue = new Queue(name, { connection: redis, prefix });
  const failed = await queue.add('create', { step: 'failed' });
  // A worker's connection must not limit retries (BullMQ refuses one that does).
  const connection = redis.duplicate({ maxRetriesPerRequest: null });
  const worker = new Worker(name, null, { connection, prefix, autorun: false });
  try {
    const taken = await worker.getNextJob('seed-token', { block: false });
    if (taken?.id !== failed.id) throw new Error(`expected to take job ${failed.id}, took ${taken?.id}`);
    await taken.moveToFailed(new Error('failed on purpose'), 'seed-token', false);
  } finally {
    await worker.close();
    connection.disconnect();
  }
  const waiting = await queue.add('pause', { step: 'waiting' });
  const delayed = await queue.add('resume', { step: 'delayed' }, { delay: 3_600_000 });
  return {
    queue,
    name,
    ids: { waiting: String(waiting.id), failed: String(failed.id), delayed: String(delayed.id) },
  };
}

/** Every job of a queue by id with its state, to show that nothing changed. */
export async function jobStates(queue: Queue): Promise<Record<string, string>> {
  const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized']);
  const states: Record<string, string> = {};
  for (const job of jobs) states[String(job.id)] = `${job.name}:${await job.getState()}`;
  return states;
}
