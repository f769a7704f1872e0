import type { Job, Queue } from 'bullmq';

/**
 * Waits until BullMQ shows a job as finished. Our outcome record (what `result()` reads) is
 * written just before BullMQ moves the job, so a test that inspects the job must wait for both.
 */
export async function finishedJob(queue: Queue, jobId: string): Promise<Job> {
  for (let i = 0; i < 250; i += 1) {
    const state = await queue.getJobState(jobId);
    if (state === 'completed' || state === 'failed') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return (await queue.getJob(jobId))!;
}
