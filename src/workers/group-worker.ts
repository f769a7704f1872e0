import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { z } from 'zod';
import { NotFoundError } from '../errors/index.ts';
import type { Logger } from '../logging/logger.ts';
import type { HangarClient } from '../producer/hangar-client.ts';
import { GROUP_QUEUE, hostPrefix } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import { errorInfo, isFinalError } from './error-policy.ts';
import { coordinateGroup } from './group-snapshot.ts';

/** What a group's coordinator job carries. */
export const GroupJobData = z.object({
  groupId: z.string(),
  /** The client that asked for the group: its own channel hears the group's end. */
  replyTo: z.string().optional(),
});

/** The coordinator job of a group (one per group: BullMQ refuses a second with the same id). */
export function groupJobId(groupId: string): string {
  return `group-${groupId}`;
}

/**
 * Consumes this host's group queue: each job coordinates one group snapshot (see
 * coordinateGroup) through `client`, and announces the group's end once, on its last
 * attempt if it fails.
 */
export function startGroupWorker(options: {
  connection: RedisClient;
  keyPrefix: string;
  hostId: string;
  store: FleetStore;
  client: HangarClient;
  log: Logger;
}): Worker {
  const { store, client, log } = options;
  const worker = new Worker(
    GROUP_QUEUE,
    async (job: Job) => {
      const data = GroupJobData.parse(job.data);
      const replyChannel =
        data.replyTo === undefined ? undefined : store.keys.fleet.replyChannel(data.replyTo);
      try {
        const group = await store.groups.get(data.groupId);
        if (group === undefined)
          throw new NotFoundError(`no group ${data.groupId}`, { groupId: data.groupId });
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
