import type { ZodType } from 'zod';
import type { KeySpace } from '../queues/names.ts';
import type { JobKey } from '../signing/job-key.ts';
import type { FleetStore } from '../state/fleet-store.ts';
import type { Tracing } from '../tracing/start-tracing.ts';
import type { JobHandle, JobRef } from './job-handle.ts';
import type { JobSubmitter } from './job-submitter.ts';

/** What a HangarClient keeps private, for hangar's own modules (batches, the CLI, tests). */
export interface ClientInternals {
  store: FleetStore;
  keys: KeySpace;
  submitter: JobSubmitter;
  /** The fleet's job key, when the client was given one (snapshot transfers sign with it). */
  jobKey: JobKey | undefined;
  /** The client's id: its jobs' outcomes come back on its own reply channel. */
  clientId: string;
  /** The client's tracing, when OTEL_* turned it on: batch and group calls open their own root spans. */
  tracing: Tracing | undefined;
  /** A handle whose result is checked against `schema`. */
  handle<R>(ref: JobRef, schema?: ZodType<R>): JobHandle<R>;
}

const internals = new WeakMap<object, ClientInternals>();

/** Called by the client's constructor. */
export function registerInternals(client: object, parts: ClientInternals): void {
  internals.set(client, parts);
}

/**
 * A client's internals. Not exported by the package's entry points: an app sees only the
 * client's public methods; hangar's CLI, batch flows and tests reach the store through this.
 */
export function internalsOf(client: object): ClientInternals {
  const parts = internals.get(client);
  if (parts === undefined) throw new TypeError('not a HangarClient');
  return parts;
}
