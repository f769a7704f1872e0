import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { z } from 'zod';
import { NotFoundError, UnsignedJobError } from '../errors/index.ts';
import type { Logger } from '../logging/logger.ts';
import type { HangarClient } from '../producer/hangar-client.ts';
import { GROUP_QUEUE, hostPrefix } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import type { JobKey } from '../signing/job-key.ts';
import { checkJobSignature, queueAddress } from '../signing/job-signature.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import { errorInfo, isFinalError } from './error-policy.ts';
import { coordinateGroup } from './group-snapshot.ts';

/** What a group's coordinator job carries. */
export const GroupJobData = z.object({
  groupId: z.string(),
  /** The client that asked for the group: its own channel hears the group's end. */
  replyTo: z.string().optional(),
  /** The members as the producer saw them (signed): the group record must still name them. */
  members: z.array(z.object({ sandboxId: z.string(), snapshotId: z.string() })).optional(),
});

/** The coordinator job of a group (one per group: BullMQ refuses a second with the same id). */
export function groupJobId(groupId: string): string {
  return `group-${groupId}`;
}

/**
 * Consumes this host's group queue: each job coordinates one group snapshot (see
 * coordinateGroup) through `client`, and announces the group's end once, on its last
 * attempt if it fails. With a job key, a job must be signed and its group record must name
 * the members the producer signed.
 */
export function startGroupWorker(options: {
  connection: RedisClient;
  keyPrefix: string;
  hostId: string;
  store: FleetStore;
  client: HangarClient;
  log: Logger;
  jobKey?: JobKey | undefined;
}): Worker {
  const { store, client, log, jobKey } = options;
  const queue = queueAddress(hostPrefix(options.keyPrefix, options.hostId), GROUP_QUEUE);
  const worker = new Worker(
    GROUP_QUEUE,
    async (job: Job) => {
      const data = GroupJobData.parse(job.data);
      const replyChannel =
        data.replyTo === undefined ? undefined : store.keys.fleet.replyChannel(data.replyTo);
      try {
        // Refused inside the try, so a caller with the wrong key hears why rather than waiting.
        if (jobKey !== undefined)
          checkJobSignature(jobKey, { queue, jobId: job.id!, name: job.name }, job.data);
        const group = await store.groups.get(data.groupId);
        if (group === undefined)
          throw new NotFoundError(`no group ${data.groupId}`, { groupId: data.groupId });
        if (jobKey !== undefined && !sameMembers(group.members, data.members)) {
          throw new UnsignedJobError(
            `group ${data.groupId}'s members differ from the ones its job was signed for`,
            {
              groupId: data.groupId,
            },
          );
        }
        const result = await coordinateGroup(client, store, group, log.child({ groupId: data.groupId }));
        await store.groups.announce(job.id!, { result }, replyChannel);
        return result;
      } catch (error) {
        const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1) || isFinalError(error);
        if (final) await store.groups.announce(job.id!, { error: errorInfo(error) }, replyChannel);
        log.error({ err: error, groupId: data.groupId, final }, 'group snapshot failed');
        throw final ? new UnrecoverableError(errorInfo(error).message) : error;
      }
    },
    { connection: options.connection, prefix: hostPrefix(options.keyPrefix, options.hostId), concurrency: 4 },
  );
  worker.on('error', (error) => log.error({ err: error }, 'group worker error'));
  return worker;
}

function sameMembers(
  record: readonly { sandboxId: string; snapshotId: string }[],
  signed: readonly { sandboxId: string; snapshotId: string }[] | undefined,
): boolean {
  return (
    signed !== undefined &&
    record.length === signed.length &&
    record.every((m, i) => m.sandboxId === signed[i]!.sandboxId && m.snapshotId === signed[i]!.snapshotId)
  );
}
