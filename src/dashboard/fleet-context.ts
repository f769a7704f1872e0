import type { KeySpace } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import type { FleetStore } from '../state/fleet-store.ts';

/** What the fleet pages read from: the store, and the fleet's event stream on the same connection. */
export interface FleetContext {
  store: FleetStore;
  /** The dashboard's shared connection: the pages read the stream only without blocking. */
  redis: RedisClient;
  keys: KeySpace;
  /** Bull Board's base path, for links to jobs. */
  boardPath: string;
}
