import { HangarError } from '../errors/index.ts';
import type { Logger } from '../logging/logger.ts';
import type { HangarClient } from '../producer/hangar-client.ts';
import type { JobHandle } from '../producer/job-handle.ts';
import type { GroupResult } from '../queues/job-results.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import type { GroupRecord } from '../state/record-schemas.ts';

/** How long one member's job may take within a group. */
const MEMBER_TIMEOUT_MS = 600_000;

type Member = GroupRecord['members'][number];

/** A group failed: none of its snapshots is kept and every member is back as it was. */
export class GroupFailedError extends HangarError {
  constructor(groupId: string, phase: string, failures: { sandboxId: string; error: unknown }[]) {
    const first = failures[0]?.error;
    super(
      first instanceof HangarError ? first.code : 'E_INTERNAL',
      `group ${groupId} failed to ${phase} ${failures.map((f) => f.sandboxId).join(', ')}: ${first instanceof Error ? first.message : String(first)}; no snapshot of the group is kept and every member is back as it was`,
      { details: { groupId, phase, members: failures.map((f) => f.sandboxId) } },
    );
  }
}

/**
 * Runs a group snapshot, as its coordinator job: every member paused (the barrier), then
 * every member snapshotted while all are paused, then the members that were running
 * resumed. Each member's job is enqueued with an idempotency key of the group, phase and
 * member, so a coordinator that dies and runs again finds the same jobs and goes on. A
 * member that fails undoes the group: the snapshots already taken are deleted and every
 * member that was running runs again.
 */
export async function coordinateGroup(
  client: HangarClient,
  store: FleetStore,
  group: GroupRecord,
  log: Logger,
): Promise<GroupResult> {
  const key = (phase: string, member: Member) => `group:${group.groupId}:${phase}:${member.sandboxId}`;
  const pauses = await settleAll(group.members, (m) =>
    client.pause(m.sandboxId, { idempotencyKey: key('pause', m) }),
  );
  if (pauses.failures.length > 0) {
    await undo(client, store, group, key, [], log);
    throw new GroupFailedError(group.groupId, 'pause', pauses.failures);
  }
  const snapshots = await settleAll(group.members, (m) =>
    client.snapshot(
      m.sandboxId,
      { snapshotId: m.snapshotId, resumeAfter: false, groupId: group.groupId },
      { idempotencyKey: key('snapshot', m) },
    ),
  );
  if (snapshots.failures.length > 0) {
    await undo(client, store, group, key, group.members, log);
    throw new GroupFailedError(group.groupId, 'snapshot', snapshots.failures);
  }
  const resumes = await settleAll(
    group.members.filter((m) => m.prior === 'running'),
    (m) => client.resume(m.sandboxId, { idempotencyKey: key('resume', m) }),
  );
  if (resumes.failures.length > 0) log.warn({ failures: resumes.failures }, 'a group member did not resume');
  await store.groups.setState(group, 'taken');
  return {
    groupId: group.groupId,
    snapshots: group.members.map((m) => {
      const taken = snapshots.results.get(m.sandboxId) as { memoryBytes: number; diskBytes: number };
      const pausedAt = Date.parse(
        String((pauses.results.get(m.sandboxId) as { finishedAt?: string }).finishedAt),
      );
      const resumed = resumes.results.get(m.sandboxId) as { finishedAt?: string } | undefined;
      const backAt = Date.parse(String(resumed?.finishedAt ?? new Date().toISOString()));
      return {
        sandboxId: m.sandboxId,
        hostId: m.hostId,
        snapshotId: m.snapshotId,
        memoryBytes: taken.memoryBytes,
        diskBytes: taken.diskBytes,
        pausedMs: backAt - pausedAt,
      };
    }),
  };
}

// Deletes the group's snapshots that exist, then runs again every member that was running.
async function undo(
  client: HangarClient,
  store: FleetStore,
  group: GroupRecord,
  key: (phase: string, member: Member) => string,
  snapshotted: readonly Member[],
  log: Logger,
): Promise<void> {
  for (const member of snapshotted) {
    if ((await client.getSnapshot(member.snapshotId)) === undefined) continue;
    await (await client.deleteSnapshot(member.snapshotId, { idempotencyKey: key('undo-snapshot', member) }))
      .result(MEMBER_TIMEOUT_MS)
      .catch((error: unknown) =>
        log.warn({ err: error, member }, 'could not delete a group snapshot on undo'),
      );
  }
  for (const member of group.members.filter((m) => m.prior === 'running')) {
    await (await client.resume(member.sandboxId, { idempotencyKey: key('undo-resume', member) }))
      .result(MEMBER_TIMEOUT_MS)
      .catch((error: unknown) => log.warn({ err: error, member }, 'could not resume a group member on undo'));
  }
  await store.groups.setState(group, 'failed');
}

// Enqueues one job per member and waits for all of them, whatever fails.
async function settleAll(
  members: readonly Member[],
  enqueue: (member: Member) => Promise<JobHandle<unknown>>,
): Promise<{ results: Map<string, unknown>; failures: { sandboxId: string; error: unknown }[] }> {
  const results = new Map<string, unknown>();
  const failures: { sandboxId: string; error: unknown }[] = [];
  await Promise.all(
    members.map(async (member) => {
      try {
        results.set(member.sandboxId, await (await enqueue(member)).result(MEMBER_TIMEOUT_MS));
      } catch (error) {
        failures.push({ sandboxId: member.sandboxId, error });
      }
    }),
  );
  return { results, failures };
}
