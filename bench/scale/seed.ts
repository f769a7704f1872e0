// Sandbox records seeded through FleetStore.putSandbox, many writes in flight at once (one
// connection, so they travel pipelined), spread round-robin over the stand-in hosts, with
// a mix of states and labels like a fleet that has run for a while.
import type { SandboxState } from '../../src/events/event-schemas.ts';
import type { FleetStore } from '../../src/state/fleet-store.ts';
import type { SandboxRecord } from '../../src/state/record-schemas.ts';
import { STAND_IN_TEMPLATE } from './stand-in-hosts.ts';

/** Writes in flight at once while seeding. */
const IN_FLIGHT = 1_000;

/** Per 20 records: 10 running, 5 paused, 1 crashed, 3 destroyed, 1 failed (80% live). */
const STATES: SandboxState[] = [
  ...Array<SandboxState>(10).fill('running'),
  ...Array<SandboxState>(5).fill('paused'),
  'crashed',
  ...Array<SandboxState>(3).fill('destroyed'),
  'failed',
];

/** Every seeded record has `pool=p0..p9`: the label a listing selects by (10% of records). */
export const LIST_LABEL = { pool: 'p3' };

/** The share of seeded records a `pool=p3` listing can match (live ones with that label). */
export const LIST_SHARE = (1 / 10) * 0.8;

const BASE_TIME = Date.parse('2026-01-01T00:00:00.000Z');

/** The seeded record number `index` on `hostId`. */
export function seededRecord(index: number, hostId: string): SandboxRecord {
  const at = new Date(BASE_TIME + index * 1_000).toISOString();
  return {
    sandboxId: `seed-${index}`,
    hostId,
    state: STATES[index % STATES.length]!,
    template: STAND_IN_TEMPLATE,
    vcpus: 1 + (index % 4),
    memoryMib: 128 * (1 + (index % 8)),
    labels: { pool: `p${index % 10}`, team: `t${index % 50}`, env: index % 3 === 0 ? 'prod' : 'dev' },
    slot: 1 + (index % 900),
    address: `10.11.${(index >> 8) & 255}.${index & 255}`,
    createdAt: at,
    updatedAt: at,
  };
}

/** Seeds records `from` .. `to - 1` over `hosts` (fewer if interrupted); returns how many and how long (ms). */
export async function seedRecords(
  store: FleetStore,
  hosts: readonly string[],
  from: number,
  to: number,
  interrupted: () => boolean,
): Promise<{ seeded: number; ms: number }> {
  const started = performance.now();
  let next = from;
  while (next < to && !interrupted()) {
    const writes: Promise<void>[] = [];
    for (const end = Math.min(to, next + IN_FLIGHT); next < end; next += 1) {
      writes.push(store.putSandbox(seededRecord(next, hosts[next % hosts.length]!)));
    }
    await Promise.all(writes);
  }
  return { seeded: next - from, ms: performance.now() - started };
}
