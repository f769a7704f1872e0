import type { Queue } from 'bullmq';
import type { Logger } from '../logging/logger.ts';

/**
 * Takes back the jobs a dead predecessor left active. The caller holds the host's lease
 * and its state dir's lock, so no other worker of this host is alive: every active job is
 * an orphan whose lock merely has not expired yet. Moving it back to wait (token '0'
 * skips BullMQ's lock check) lets it run again at once instead of after the lock's full
 * duration, and without counting a stall against it.
 */
export async function takeBackOrphans(queue: Queue, log: Logger): Promise<string[]> {
  const taken: string[] = [];
  for (const job of await queue.getJobs(['active'])) {
    try {
      await job.moveToWait('0');
      taken.push(job.id!);
    } catch (error) {
      log.warn({ err: error, jobId: job.id }, 'could not take back an orphaned job');
    }
  }
  if (taken.length > 0) log.info({ jobs: taken }, 'took back jobs a dead worker left active');
  return taken;
}
