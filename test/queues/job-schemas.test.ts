import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { parsePayload } from '../../src/queues/job-schemas.ts';
import { hostPrefix, hostQueueName, KeySpace } from '../../src/queues/names.ts';

describe('job payloads', () => {
  it('accepts each operation and fills defaults', () => {
    expect(
      parsePayload({ op: 'create', sandboxId: 'sb-1', template: 'base', vcpus: 2, memoryMib: 512 }),
    ).toMatchObject({
      labels: {},
    });
    expect(parsePayload({ op: 'snapshot', sandboxId: 'sb-1', snapshotId: 's1' })).toMatchObject({
      resumeAfter: true,
    });
    expect(parsePayload({ op: 'restore', sandboxId: 'sb-2', snapshotId: 's1' })).toMatchObject({
      resume: true,
    });
    for (const op of ['pause', 'resume', 'destroy'])
      expect(parsePayload({ op, sandboxId: 'sb-1' }).op).toBe(op);
  });

  it.each([
    [{ op: 'create', sandboxId: 'sb-1', template: 'base', vcpus: 99, memoryMib: 512 }, 'vcpus'],
    [{ op: 'create', sandboxId: 'sb-1', template: 'base', vcpus: 1, memoryMib: 10 }, 'memoryMib'],
    [{ op: 'pause', sandboxId: '../../etc' }, 'sandboxId'],
    [{ op: 'pause', sandboxId: 'sb-1', force: true }, 'force'],
    [{ op: 'snapshot', sandboxId: 'sb-1', snapshotId: 'A B' }, 'snapshotId'],
    [
      {
        op: 'create',
        sandboxId: 'sb-1',
        template: 'base',
        vcpus: 1,
        memoryMib: 256,
        labels: { 'BAD KEY': 'x' },
      },
      'labels',
    ],
    [{ op: 'reboot', sandboxId: 'sb-1' }, 'op'],
  ])('rejects %j naming %s', (input, field) => {
    expect(() => parsePayload(input)).toThrow(
      expect.objectContaining({ code: ErrorCode.Validation, message: expect.stringContaining(field) }),
    );
  });
});

describe('queue names', () => {
  it("puts a host's queue and its hot-path keys under the host's own hash tag, the rest under {fleet}", () => {
    const keys = new KeySpace('hangar');
    expect(hostPrefix('hangar', 'h1')).toBe('hangar:{host:h1}');
    const h1 = keys.host('h1');
    for (const key of [h1.sandbox('a'), h1.sequence('a'), h1.jobOutcome('j'), h1.heartbeat(), h1.outbox()]) {
      expect(key.startsWith('hangar:{host:h1}:')).toBe(true);
    }
    for (const key of [keys.fleet.eventStream(), keys.fleet.where('a'), keys.fleet.batch('b')]) {
      expect(key.startsWith('hangar:{fleet}:')).toBe(true);
    }
    expect(keys.outcome('fleet', 'batch-1')).toBe('hangar:{fleet}:outcome:batch-1');
    expect(keys.outcome('h1', 'job-1')).toBe('hangar:{host:h1}:outcome:job-1');
    expect(hostQueueName('h1')).toBe('host-h1');
    expect(() => hostQueueName('h:1')).toThrow();
  });
});
