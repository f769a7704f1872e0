import { lastPosition } from '../events/event-reader.ts';
import { eventsTable } from './events-view.ts';
import type { FleetContext } from './fleet-context.ts';
import { type FleetFilter, sandboxQuery } from './fleet-query.ts';
import { hostsTable } from './hosts-view.ts';
import { html, type SafeHtml } from './html.ts';
import { fleetPaths, page } from './layout.ts';
import { filterForm, sandboxTable, stateCounts } from './sandboxes-view.ts';

// How often the hosts table is read again: heartbeats are not events. About a heartbeat's
// period, and cheap (two reads per host).
const HOSTS_REFRESH_MS = 2_000;

/** The hosts table, alone (the live script swaps it in every few seconds). */
export async function hostsFragment(ctx: FleetContext): Promise<SafeHtml> {
  return hostsTable(await ctx.store.hosts.statuses());
}

/** The counts by state, alone (swapped in when a state changes). */
export async function countsFragment(ctx: FleetContext): Promise<SafeHtml> {
  return stateCounts(await ctx.store.countsByState());
}

/**
 * `/fleet`: the hosts, the sandboxes (one page of a filter, with counts by state) and the
 * events that arrive while it is open. The stream's position is read before anything
 * else, so the live script replays whatever changed while the page was being read.
 */
export async function fleetPage(ctx: FleetContext, filter: FleetFilter): Promise<string> {
  const head = await lastPosition(ctx.redis, ctx.keys);
  const [statuses, counts, listing] = await Promise.all([
    ctx.store.hosts.statuses(),
    ctx.store.countsByState(),
    ctx.store.listPage(sandboxQuery(filter), {
      limit: filter.limit,
      ...(filter.cursor === undefined ? {} : { cursor: filter.cursor }),
    }),
  ]);
  const content = html`<section>
<h2>Hosts</h2>
<div id="hosts" data-refresh-url="${fleetPaths.fragment('hosts')}" data-refresh-every="${HOSTS_REFRESH_MS}" data-refresh-on="host.lost host.recovered sandbox.state">${hostsTable(statuses)}</div>
</section>
<section>
<h2>Sandboxes</h2>
<div id="counts" class="counts" data-refresh-url="${fleetPaths.fragment('counts')}" data-refresh-on="sandbox.state">${stateCounts(counts)}</div>
${filterForm(
  filter,
  statuses.map((status) => status.hostId),
)}
${sandboxTable(listing, filter)}
</section>
<section>
<h2>Live events</h2>
${eventsTable([], 'Events appear here as they arrive.')}
</section>`;
  return page(
    {
      title: 'Fleet',
      keyPrefix: ctx.keys.keyPrefix,
      boardPath: ctx.boardPath,
      eventsUrl: `${fleetPaths.events}?after=${encodeURIComponent(head)}`,
    },
    content,
  );
}
