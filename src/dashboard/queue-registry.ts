import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type Logger, silentLogger } from '../logging/logger.ts';
import { BATCH_QUEUE, bullPrefix, hostQueueName } from '../queues/names.ts';
import type { FleetStore } from '../state/fleet-store.ts';

/** The part of Bull Board's board the registry drives. */
export interface BoardQueues {
  addQueue(adapter: BullMQAdapter): void;
}

/**
 * Keeps Bull Board's queue list in step with the host registry: Bull Board never discovers
 * queues, so the batch queue is added at once and each host's queue as soon as the host has
 * registered (every `refresh()`). Hosts are never removed: a lost host's jobs stay visible.
 */
export class QueueRegistry {
  readonly #board: BoardQueues;
  readonly #store: FleetStore;
  readonly #connection: Redis;
  readonly #prefix: string;
  readonly #readOnly: boolean;
  readonly #log: Logger;
  readonly #queues = new Map<string, Queue>();

  constructor(options: {
    board: BoardQueues;
    store: FleetStore;
    connection: Redis;
    keyPrefix: string;
    readOnly: boolean;
    logger?: Logger;
  }) {
    this.#board = options.board;
    this.#store = options.store;
    this.#connection = options.connection;
    this.#prefix = bullPrefix(options.keyPrefix);
    this.#readOnly = options.readOnly;
    this.#log = options.logger ?? silentLogger;
  }

  /** Names of the queues on the board so far. */
  names(): string[] {
    return [...this.#queues.keys()];
  }

  /** Adds the batch queue and the queue of every host registered since the last call. */
  async refresh(): Promise<void> {
    this.#add(BATCH_QUEUE);
    const hosts = await this.#store.hosts.knownHosts();
    for (const hostId of [...hosts].sort()) {
      try {
        this.#add(hostQueueName(hostId));
      } catch (error) {
        this.#log.warn({ err: error, hostId }, 'skipping a host id that is not a valid identifier');
      }
    }
  }

  /** Closes every queue (the shared connection stays with its owner). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()].map((queue) => queue.close()));
    this.#queues.clear();
  }

  #add(name: string): void {
    if (this.#queues.has(name)) return;
    const queue = new Queue(name, { connection: this.#connection, prefix: this.#prefix });
    queue.on('error', (error) => this.#log.warn({ err: error, queue: name }, 'dashboard queue error'));
    this.#queues.set(name, queue);
    this.#board.addQueue(new BullMQAdapter(queue, { readOnlyMode: this.#readOnly }));
    this.#log.info({ queue: name }, 'queue added to the dashboard');
  }
}
