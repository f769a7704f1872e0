import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { Queue } from 'bullmq';
import { type Logger, silentLogger } from '../logging/logger.ts';
import { BATCH_QUEUE, hostPrefix, hostQueueName } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import type { FleetStore } from '../state/fleet-store.ts';

/** The part of Bull Board's board the registry drives. */
export interface BoardQueues {
  addQueue(adapter: BullMQAdapter): void;
}

/**
 * Keeps Bull Board's queue list in step with the host registry: Bull Board never discovers
 * queues, so each host's two queues (its own, and its part of batches, shown as
 * `<host>:batch`) are added as soon as the host has registered (every `refresh()`). Hosts
 * are never removed: a lost host's jobs stay visible.
 */
export class QueueRegistry {
  readonly #board: BoardQueues;
  readonly #store: FleetStore;
  readonly #connection: RedisClient;
  readonly #keyPrefix: string;
  readonly #readOnly: boolean;
  readonly #log: Logger;
  readonly #queues = new Map<string, Queue>();
  readonly #owners = new Map<string, { hostId: string; kind: 'host' | 'batch' }>();

  constructor(options: {
    board: BoardQueues;
    store: FleetStore;
    connection: RedisClient;
    keyPrefix: string;
    readOnly: boolean;
    logger?: Logger;
  }) {
    this.#board = options.board;
    this.#store = options.store;
    this.#connection = options.connection;
    this.#keyPrefix = options.keyPrefix;
    this.#readOnly = options.readOnly;
    this.#log = options.logger ?? silentLogger;
  }

  /** Names of the queues on the board so far. */
  names(): string[] {
    return [...this.#queues.keys()];
  }

  /** Each queue on the board with its host and kind (the host's own queue, or its part of batches). */
  hostQueues(): { hostId: string; kind: 'host' | 'batch'; queue: Queue }[] {
    return [...this.#queues].map(([name, queue]) => ({ ...this.#owners.get(name)!, queue }));
  }

  /** Adds the queues of every host registered since the last call. */
  async refresh(): Promise<void> {
    const hosts = await this.#store.hosts.knownHosts();
    for (const hostId of hosts) {
      try {
        this.#add(hostId, hostQueueName(hostId), '');
        this.#add(hostId, BATCH_QUEUE, `${hostId}:`);
      } catch (error) {
        this.#log.warn({ err: error, hostId }, 'skipping a host id that is not a valid identifier');
      }
    }
  }

  /** Closes every queue (the shared connection stays with its owner). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()].map((queue) => queue.close()));
    this.#queues.clear();
    this.#owners.clear();
  }

  // `shownAs` tells the board's names apart: every host has a queue called `batch`.
  #add(hostId: string, queueName: string, shownAs: string): void {
    const name = `${shownAs}${queueName}`;
    if (this.#queues.has(name)) return;
    const queue = new Queue(queueName, {
      connection: this.#connection,
      prefix: hostPrefix(this.#keyPrefix, hostId),
    });
    queue.on('error', (error) => this.#log.warn({ err: error, queue: name }, 'dashboard queue error'));
    this.#queues.set(name, queue);
    this.#owners.set(name, { hostId, kind: queueName === BATCH_QUEUE ? 'batch' : 'host' });
    this.#board.addQueue(new BullMQAdapter(queue, { readOnlyMode: this.#readOnly, prefix: shownAs }));
    this.#log.info({ queue: name }, 'queue added to the dashboard');
  }
}
