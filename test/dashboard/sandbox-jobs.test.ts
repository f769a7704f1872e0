import { describe, expect, it } from 'vitest';
import { sandboxJobs } from '../../src/dashboard/sandbox-jobs.ts';
import type { PositionedEvent } from '../../src/events/event-schemas.ts';

const at = (second: number) => `2026-01-01T00:00:${String(second).padStart(2, '0')}.000Z`;

describe("a sandbox's jobs from its job sequence and its recent events", () => {
  it('lists unfinished jobs first, then each told job once, where its newest event leaves it', () => {
    // Newest first, as recentEvents gives them.
    const events: PositionedEvent[] = [
      {
        position: '4-0',
        event: {
          type: 'job.failed',
          at: at(4),
          jobId: 'resume-sb-1-4-x',
          op: 'resume',
          sandboxId: 'sb-1',
          error: { code: 'E_VMM_API', message: 'busy' },
          willRetry: true,
          attempt: 1,
        },
      },
      {
        position: '3-0',
        event: {
          type: 'job.completed',
          at: at(3),
          jobId: 'pause-sb-1-2-x',
          op: 'pause',
          sandboxId: 'sb-1',
          result: {},
        },
      },
      {
        position: '2-0',
        event: {
          type: 'job.failed',
          at: at(2),
          jobId: 'pause-sb-1-2-x',
          op: 'pause',
          sandboxId: 'sb-1',
          error: { code: 'E_TIMEOUT', message: 'slow' },
          willRetry: true,
          attempt: 1,
        },
      },
      {
        position: '1-0',
        event: {
          type: 'job.completed',
          at: at(1),
          jobId: 'create-sb-1-1-x',
          op: 'create',
          sandboxId: 'sb-1',
          result: {},
        },
      },
    ];
    const unfinished = [
      { seq: 4, jobId: 'resume-sb-1-4-x', takenAtMs: Date.parse(at(3)) },
      { seq: 5, jobId: 'destroy-sb-1-5-x', takenAtMs: Date.parse(at(5)) },
    ];
    expect(
      sandboxJobs('sb-1', unfinished, events).map(({ jobId, op, status }) => [jobId, op, status]),
    ).toEqual([
      ['destroy-sb-1-5-x', 'destroy', 'unfinished'],
      ['resume-sb-1-4-x', 'resume', 'retrying'],
      ['pause-sb-1-2-x', 'pause', 'completed'],
      ['create-sb-1-1-x', 'create', 'completed'],
    ]);
  });
});
