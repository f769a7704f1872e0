import { Queue } from 'bullmq';
import { IllegalStateError, NotFoundError, ValidationError } from '../errors/index.ts';
import { DEFAULT_JOB_OPTIONS } from '../queues/job-options.ts';
import { GroupResult, type SandboxResult } from '../queues/job-results.ts';
import { FLEET_HOME, GROUP_QUEUE, hostPrefix } from '../queues/names.ts';
import { Identifier } from '../validation/identifiers.ts';
import { internalsOf } from './client-internals.ts';
import type { CallOptions, HangarClient } from './hangar-client.ts';
import type { JobHandle } from './job-handle.ts';
import { newId } from './new-id.ts';
import { tracedCall } from './traced-enqueue.ts';

/** The name of a group's coordinator job. */
export const GROUP_JOB_NAME = 'snapshot-group';

/** A group snapshot in flight: its id, its members' snapshot ids, and its coordinator's job. */
export interface GroupHandle {
  groupId: string;
  /** Sandbox id -> the id its snapshot in the group gets. */
  snapshotIds: Record<string, string>;
  /** Resolves once every member is snapshotted and running again; rejects if any failed (then none is kept). */
  result: JobHandle<GroupResult>;
}

/**
 * Snapshots sandboxes at one barrier: a coordinator job (on the first member's host) pauses
 * every member, snapshots every one while all are paused, then resumes those that were
 * running. A member that fails undoes the group (its taken snapshots deleted, every member
 * running again). Repeating the call with the same `groupId` returns the same group.
 */
export function snapshotGroup(
  client: HangarClient,
  sandboxIds: readonly string[],
  options: { groupId?: string } = {},
): Promise<GroupHandle> {
  return tracedCall(
    internalsOf(client).tracing,
    'snapshot-group',
    { 'hangar.group_size': sandboxIds.length },
    () => startGroup(client, sandboxIds, options),
    (group) => ({ 'hangar.group_id': group.groupId }),
  );
}

async function startGroup(
  client: HangarClient,
  sandboxIds: readonly string[],
  options: { groupId?: string },
): Promise<GroupHandle> {
  if (sandboxIds.length === 0 || new Set(sandboxIds).size !== sandboxIds.length) {
    throw new ValidationError('a group snapshot needs one or more distinct sandboxes', {
      field: 'sandboxIds',
    });
  }
  const groupId = Identifier.parse(options.groupId ?? newId('group'));
  const { store, keys, clientId, handle, submitter, tracing } = internalsOf(client);
  const members = [];
  for (const sandboxId of sandboxIds) {
    const record = await client.get(sandboxId);
    if (record === undefined) throw new NotFoundError(`no sandbox ${sandboxId}`, { sandboxId });
    if (record.state !== 'running' && record.state !== 'paused') {
      throw new IllegalStateError(`cannot snapshot sandbox ${sandboxId} in a group: it is ${record.state}`, {
        sandboxId,
        state: record.state,
      });
    }
    const snapshotId = `${groupId}-${sandboxId}`.slice(0, 40).replace(/-+$/, '');
    members.push({ sandboxId, hostId: record.hostId, snapshotId, prior: record.state });
  }
  const group = await store.groups.create({
    groupId,
    members,
    state: 'taking',
    createdAt: new Date().toISOString(),
  });
  const coordinatorHost = group.members[0]!.hostId;
  const queue = new Queue(GROUP_QUEUE, {
    connection: store.redis,
    prefix: hostPrefix(keys.keyPrefix, coordinatorHost),
    ...(tracing === undefined ? {} : { telemetry: tracing.telemetry }),
  });
  queue.on('error', () => undefined);
  const jobId = `group-${groupId}`;
  // Signed like every job, members included: the coordinator enqueues signed jobs for them,
  // so a forged group (or a group record changed in Redis) must not reach it.
  const data = submitter.signed(
    { hostId: coordinatorHost, queue: GROUP_QUEUE, jobId, name: GROUP_JOB_NAME },
    {
      groupId,
      replyTo: clientId,
      members: group.members.map((m) => ({ sandboxId: m.sandboxId, snapshotId: m.snapshotId })),
    },
  );
  try {
    // The same job id for a repeated call: BullMQ adds it once.
    await queue.add(GROUP_JOB_NAME, data, { ...DEFAULT_JOB_OPTIONS, jobId });
  } finally {
    await queue.close();
  }
  return {
    groupId,
    snapshotIds: Object.fromEntries(group.members.map((m) => [m.sandboxId, m.snapshotId])),
    result: handle({ jobId, hostId: FLEET_HOME, sandboxId: groupId, op: 'snapshot-group' }, GroupResult),
  };
}

/** Restores every snapshot of a taken group, together: one new sandbox per member, in member order. */
export async function restoreGroup(
  client: HangarClient,
  groupId: string,
  input: { labels?: Record<string, string> } = {},
  options: CallOptions = {},
): Promise<JobHandle<SandboxResult>[]> {
  const group = await internalsOf(client).store.groups.get(groupId);
  if (group === undefined) throw new NotFoundError(`no group ${groupId}`, { groupId });
  if (group.state !== 'taken') {
    throw new IllegalStateError(`group ${groupId} is ${group.state}: only a taken group restores`, {
      groupId,
    });
  }
  return Promise.all(
    group.members.map((member) =>
      client.restore(
        member.snapshotId,
        { labels: { ...input.labels, 'hangar-group': groupId } },
        options.idempotencyKey === undefined
          ? {}
          : { idempotencyKey: `${options.idempotencyKey}/${member.sandboxId}` },
      ),
    ),
  );
}
