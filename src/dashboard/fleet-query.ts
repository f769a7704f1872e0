import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';
import { SandboxState } from '../events/event-schemas.ts';
import { Labels } from '../queues/job-schemas.ts';
import type { SandboxQuery } from '../state/fleet-store.ts';
import { Identifier } from '../validation/identifiers.ts';

/** How many sandboxes a page lists unless `limit` says otherwise. */
export const DEFAULT_PAGE_SIZE = 50;

// A form's empty select or field means "any", so '' is accepted and dropped.
const orEmpty = <T extends z.ZodType>(schema: T) => z.union([z.literal(''), schema]).optional();

/** The sandbox list's query string: `?host=&state=&label=k=v&label=...&cursor=&limit=`. */
const FilterQuery = z.object({
  host: orEmpty(Identifier),
  state: orEmpty(SandboxState),
  label: z.union([z.string(), z.array(z.string())]).optional(),
  cursor: orEmpty(z.string().max(200)),
  limit: orEmpty(z.coerce.number().int().min(1).max(500)),
});

/** A parsed sandbox filter with its page. */
export interface FleetFilter {
  hostId?: string;
  state?: SandboxState;
  labels: Record<string, string>;
  cursor?: string;
  limit: number;
}

/** Reads a filter from a request's query; a bad value is a ValidationError naming its field. */
export function parseFilter(query: unknown): FleetFilter {
  const parsed = FilterQuery.safeParse(query);
  if (!parsed.success) throw ValidationError.fromZod('sandbox filter', parsed.error);
  const { host, state, label, cursor, limit } = parsed.data;
  const pairs = (Array.isArray(label) ? label : [label ?? ''])
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '');
  const labels = Labels.safeParse(
    Object.fromEntries(
      pairs.map((pair) => {
        const at = pair.indexOf('=');
        return at < 0 ? [pair, ''] : [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
      }),
    ),
  );
  if (!labels.success) throw ValidationError.fromZod('label filter (key=value)', labels.error);
  return {
    ...(host ? { hostId: host } : {}),
    ...(state ? { state } : {}),
    labels: labels.data,
    ...(cursor ? { cursor } : {}),
    limit: typeof limit === 'number' ? limit : DEFAULT_PAGE_SIZE,
  };
}

/** The store's query for a filter. */
export function sandboxQuery(filter: FleetFilter): SandboxQuery {
  return {
    ...(filter.hostId === undefined ? {} : { hostId: filter.hostId }),
    ...(filter.state === undefined ? {} : { state: filter.state }),
    ...(Object.keys(filter.labels).length === 0 ? {} : { labels: filter.labels }),
  };
}

/** A filter as a query string (with its leading `?`, or '' when it selects everything). */
export function filterSearch(filter: FleetFilter, page: { cursor?: string } = {}): string {
  const params = new URLSearchParams();
  if (filter.hostId !== undefined) params.set('host', filter.hostId);
  if (filter.state !== undefined) params.set('state', filter.state);
  for (const [key, value] of Object.entries(filter.labels)) params.append('label', `${key}=${value}`);
  if (filter.limit !== DEFAULT_PAGE_SIZE) params.set('limit', String(filter.limit));
  if (page.cursor !== undefined) params.set('cursor', page.cursor);
  const search = params.toString();
  return search === '' ? '' : `?${search}`;
}
