import { failureOf, type JobInfo, type JobInstrument } from '../workers/job-instruments.ts';
import type { SpanAttributes, Tracing } from './start-tracing.ts';

/** The attributes every span of a job attempt carries (ids belong here, never in metric labels). */
export function jobAttributes(info: JobInfo): SpanAttributes {
  return {
    'hangar.op': info.op,
    'hangar.sandbox_id': info.sandboxId,
    'hangar.host_id': info.hostId,
    'hangar.job_id': info.jobId,
    'hangar.attempt': info.attempt,
  };
}

/**
 * Traces a worker's jobs: one span per attempt (`hangar.job <op>`, a child of BullMQ's
 * process span, so of the producer's add through the job's telemetry metadata) and one
 * per step inside it (`hangar.step <step>`), each with the sandbox, host, op, attempt and job.
 */
export function jobTracing(tracing: Tracing): JobInstrument {
  return {
    job: (info, run) =>
      tracing.span(`hangar.job ${info.op}`, jobAttributes(info), async (span) => {
        try {
          return await run();
        } catch (error) {
          const { final, code } = failureOf(info, error);
          span.setAttributes({ 'hangar.error_code': code, 'hangar.final': final });
          throw error;
        }
      }),
    step: (info, run) =>
      tracing.span(
        `hangar.step ${info.step}`,
        { ...jobAttributes(info.job), 'hangar.step': info.step, 'hangar.step_index': info.index },
        () => run(),
      ),
  };
}
