import type { SandboxState } from '../events/event-schemas.ts';
import type { HostKeys } from '../queues/names.ts';
import type { RedisClient } from '../redis/connections.ts';
import type { SandboxRecord } from './record-schemas.ts';

/** What a listing selects: every condition given must hold (every label given must match). */
export interface SandboxQuery {
  hostId?: string;
  state?: SandboxState;
  labels?: Record<string, string>;
}

/** One page of a listing, and where the next one starts (none: the end). */
export interface SandboxPage {
  records: SandboxRecord[];
  cursor?: string;
}

/** Whether a record meets every condition of a query. */
export function matches(record: SandboxRecord, query: SandboxQuery): boolean {
  return (
    (query.hostId === undefined || record.hostId === query.hostId) &&
    (query.state === undefined || record.state === query.state) &&
    Object.entries(query.labels ?? {}).every(([key, value]) => record.labels[key] === value)
  );
}

/** The index of a host's slot that selects best for a query: a label, else the state, else all live. */
export function indexFor(host: HostKeys, query: SandboxQuery): string {
  const [labelKey, labelValue] = Object.entries(query.labels ?? {})[0] ?? [];
  if (labelKey !== undefined) return host.labelIndex(labelKey, labelValue!);
  if (query.state !== undefined) return host.stateIndex(query.state);
  return host.liveIndex();
}

/**
 * Pages through live sandboxes across hosts: each host's index (on its own slot) is read
 * from the cursor on, the members are merged in creation order (`<createdAt>|<id>` sorts
 * the same on every host), and the first `limit` are read back. The cursor is the last
 * member returned, so it means the same whatever hosts come and go. Reads at most `limit`
 * members per host per round; a query whose other conditions filter hard reads at most ten
 * rounds per page.
 */
export async function pageAcrossHosts(
  redis: RedisClient,
  hosts: readonly HostKeys[],
  query: SandboxQuery,
  page: { limit: number; cursor?: string },
  readRecords: (host: HostKeys, ids: string[]) => Promise<SandboxRecord[]>,
): Promise<SandboxPage> {
  const records: SandboxRecord[] = [];
  let after = page.cursor;
  for (let round = 0; round < 10 && records.length < page.limit; round += 1) {
    const perHost = await Promise.all(
      hosts.map(async (host) => {
        const members = await redis.zrangebylex(
          indexFor(host, query),
          after === undefined ? '-' : `(${after}`,
          '+',
          'LIMIT',
          0,
          page.limit,
        );
        return members.map((member) => ({ member, host }));
      }),
    );
    const merged = perHost.flat().sort((a, b) => (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
    const taken = merged.slice(0, page.limit);
    if (taken.length === 0) return { records };
    after = taken.at(-1)!.member;
    const byHost = new Map<HostKeys, string[]>();
    for (const { member, host } of taken) {
      byHost.set(host, [...(byHost.get(host) ?? []), member.slice(member.lastIndexOf('|') + 1)]);
    }
    const found = (await Promise.all([...byHost].map(([host, ids]) => readRecords(host, ids)))).flat();
    const order = new Map(
      taken.map(({ member }, index) => [member.slice(member.lastIndexOf('|') + 1), index]),
    );
    found.sort((a, b) => (order.get(a.sandboxId) ?? 0) - (order.get(b.sandboxId) ?? 0));
    records.push(...found.filter((record) => matches(record, query)));
    if (merged.length <= page.limit && perHost.every((members) => members.length < page.limit)) {
      return { records };
    }
  }
  return { records, cursor: after };
}
