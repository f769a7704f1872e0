import type { HangarEvent, PositionedEvent } from '../../events/event-schemas.ts';

/**
 * One line for an event: time, type, what it is about (sandbox, batch or host) and what
 * happened (the new state, the outcome, the error). With `position`, the line starts with
 * the stream position a user passes to `hangar events --after` to resume.
 */
export function formatEventLine(positioned: PositionedEvent, options: { position?: boolean } = {}): string {
  const { event } = positioned;
  const time = event.at.slice(11, 23);
  const cells = [time, event.type.padEnd(15), subjectOf(event).padEnd(18), detailOf(event)];
  if (options.position !== false) cells.unshift(positioned.position.padEnd(15));
  return cells.join('  ').trimEnd();
}

function subjectOf(event: HangarEvent): string {
  switch (event.type) {
    case 'host.lost':
      return event.lostHostId;
    case 'host.recovered':
      return event.hostId ?? '-';
    case 'batch.completed':
    case 'batch.progress':
      return event.batchId;
    case 'group.completed':
      return event.groupId;
    case 'job.failed':
      return event.sandboxId ?? '-';
    case 'job.completed':
    case 'sandbox.state':
    case 'sandbox.crashed':
      return event.sandboxId;
  }
}

function detailOf(event: HangarEvent): string {
  switch (event.type) {
    case 'sandbox.state':
      return `${event.previous ?? '-'} -> ${event.state}`;
    case 'job.completed':
      return `${event.op} ${String(event.result.outcome ?? 'done')}${onHost(event)}`;
    case 'job.failed':
      return `${event.op} ${event.error.code} ${event.error.message} (attempt ${event.attempt}${event.willRetry ? ', will retry' : ', final'})`;
    case 'sandbox.crashed':
      return `pid ${event.pid} exited (${event.signal ?? `code ${event.code}`})`;
    case 'host.lost':
      return `${event.sandboxes.length} sandbox(es) lost`;
    case 'host.recovered':
      return `${event.sandboxes.length} sandbox(es) back`;
    case 'batch.progress':
      return `${event.done + event.failed}/${event.total} (${event.failed} failed)`;
    case 'batch.completed': {
      const snapshots = Array.isArray(event.result.snapshots) ? event.result.snapshots.length : 0;
      const failures = Array.isArray(event.result.failures) ? event.result.failures.length : 0;
      return `${snapshots} snapshot(s), ${failures} failure(s)`;
    }
    case 'group.completed': {
      const snapshots = Array.isArray(event.result.snapshots) ? event.result.snapshots.length : 0;
      return `${snapshots} member(s) snapshotted at one barrier`;
    }
  }
}

function onHost(event: HangarEvent): string {
  return event.hostId === undefined ? '' : ` on ${event.hostId}`;
}
