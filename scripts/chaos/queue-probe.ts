import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BATCH_QUEUE, hostPrefix, hostQueueName } from '../../src/queues/names.ts';

/** Job states in which a job can still be run, and so still answer its result(). */
export const UNFINISHED_STATES = ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'] as const;

/**
 * Reads a run's BullMQ queues (its host's and the batch queue) straight from Redis, over a
 * connection of its own: how many jobs are unfinished, and where a given job is.
 */
export class QueueProbe {
  readonly redis: Redis;
  readonly queues: Queue[];
  readonly hostId: string;

  constructor(redisUrl: string, keyPrefix: string, hostId: string) {
    this.hostId = hostId;
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, connectionName: 'hangar-chaos-probe' });
    this.redis.on('error', () => undefined);
    const prefix = hostPrefix(keyPrefix, hostId);
    this.queues = [hostQueueName(hostId), BATCH_QUEUE].map(
      (name) => new Queue(name, { connection: this.redis, prefix }),
    );
    for (const queue of this.queues) queue.on('error', () => undefined);
  }

  /** Unfinished jobs by queue and state (only the non-zero counts). */
  async unfinished(): Promise<Record<string, Record<string, number>>> {
    const counts: Record<string, Record<string, number>> = {};
    for (const queue of this.queues) {
      const all = await queue.getJobCounts(...UNFINISHED_STATES);
      const busy = Object.entries(all).filter(([, count]) => count > 0);
      if (busy.length > 0) counts[queue.name] = Object.fromEntries(busy);
    }
    return counts;
  }

  /** Whether any job of the run could still run; undefined when Redis cannot be read. */
  async busy(): Promise<boolean | undefined> {
    try {
      return Object.keys(await this.unfinished()).length > 0;
    } catch {
      return undefined;
    }
  }

  /** Where a job is: its queue, BullMQ state and failure reason; 'absent' when no queue has it. */
  async whereIs(jobId: string): Promise<{ queue?: string; state: string; failedReason?: string }> {
    for (const queue of this.queues) {
      const job = await queue.getJob(jobId);
      if (job === undefined) continue;
      const state = await job.getState();
      return { queue: queue.name, state, ...(job.failedReason ? { failedReason: job.failedReason } : {}) };
    }
    return { state: 'absent' };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.queues.map((queue) => queue.close()));
    this.redis.disconnect();
  }
}
