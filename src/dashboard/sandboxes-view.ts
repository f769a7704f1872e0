import { SandboxState } from '../events/event-schemas.ts';
import type { SandboxPage } from '../state/fleet-store.ts';
import type { SandboxRecord } from '../state/record-schemas.ts';
import { DEFAULT_PAGE_SIZE, type FleetFilter, filterSearch } from './fleet-query.ts';
import { html, type SafeHtml } from './html.ts';
import { fleetPaths, formatMib, formatTime } from './layout.ts';

/** Sandboxes by state, each a link that filters the list by it. */
export function stateCounts(counts: Partial<Record<SandboxState, number>>): SafeHtml {
  const states = SandboxState.options.filter((state) => (counts[state] ?? 0) > 0);
  if (states.length === 0) return html`<span class="muted">no sandboxes yet</span>`;
  return html`${states.map(
    (state) =>
      html`<a class="count" data-state="${state}" href="${`${fleetPaths.page}?state=${state}`}">${state} <b>${counts[state]}</b></a>`,
  )}
<span class="muted">(destroyed and failed are counted since the start)</span>`;
}

/** The filter form: host, state, and one field per label (plus an empty one to add a label). */
export function filterForm(filter: FleetFilter, hosts: readonly string[]): SafeHtml {
  const option = (value: string, label: string, selected: boolean) =>
    html`<option value="${value}"${selected ? html` selected` : ''}>${label}</option>`;
  const labels = [...Object.entries(filter.labels).map(([key, value]) => `${key}=${value}`), ''];
  return html`<form class="filter" method="get" action="${fleetPaths.page}">
<label>Host <select name="host">${option('', 'any', filter.hostId === undefined)}${hosts.map((host) =>
    option(host, host, host === filter.hostId),
  )}</select></label>
<label>State <select name="state">${option('', 'any', filter.state === undefined)}${SandboxState.options.map(
    (state) => option(state, state, state === filter.state),
  )}</select></label>
${labels.map((pair) => html`<label>Label <input name="label" value="${pair}" placeholder="key=value" size="16"></label>`)}
${filter.limit === DEFAULT_PAGE_SIZE ? '' : html`<input type="hidden" name="limit" value="${filter.limit}">`}
<button type="submit">Filter</button>
<a href="${fleetPaths.page}">clear</a>
</form>`;
}

/**
 * The sandbox table of one page. Its data attributes tell the live script how to keep it
 * current: rows of new sandboxes are asked for (already filtered) only on the last page,
 * where a sandbox created now belongs (the listing runs oldest first).
 */
export function sandboxTable(page: SandboxPage, filter: FleetFilter): SafeHtml {
  return html`<table id="sandboxes" class="sandboxes" data-row-url="${fleetPaths.fragment('sandbox-row')}" data-row-search="${filterSearch(filter)}" data-last-page="${page.cursor === undefined}" data-state-filter="${filter.state}">
<thead><tr>
<th>Sandbox</th><th>Host</th><th>State</th><th>Template</th><th>Shape</th><th>Labels</th><th>Address</th><th>Created</th><th>Updated</th>
</tr></thead>
<tbody>${page.records.length === 0 ? html`<tr class="empty-row"><td colspan="9">No sandbox matches.</td></tr>` : page.records.map(sandboxRow)}</tbody>
</table>
<nav class="paging">${filter.cursor === undefined ? '' : html`<a href="${`${fleetPaths.page}${filterSearch(filter)}`}">« first page</a>`}
${page.cursor === undefined ? '' : html`<a rel="next" href="${`${fleetPaths.page}${filterSearch(filter, { cursor: page.cursor })}`}">next page »</a>`}</nav>`;
}

/** One sandbox's row (also served alone, for the live script to add). */
export function sandboxRow(record: SandboxRecord): SafeHtml {
  return html`<tr data-sandbox-id="${record.sandboxId}" data-state="${record.state}">
<td><a href="${fleetPaths.sandbox(record.sandboxId)}">${record.sandboxId}</a></td>
<td>${record.hostId}</td>
<td class="state"><span class="state-badge" data-state="${record.state}">${record.state}</span></td>
<td>${record.template}</td>
<td>${record.vcpus} vCPU, ${formatMib(record.memoryMib)}</td>
<td class="labels">${labelChips(record.labels)}</td>
<td>${record.address}</td>
<td>${formatTime(record.createdAt)}</td>
<td class="updated">${formatTime(record.updatedAt)}</td>
</tr>`;
}

/** Labels as small `key=value` chips. */
export function labelChips(labels: Record<string, string>): SafeHtml {
  return html`${Object.entries(labels).map(([key, value]) => html`<span class="label">${key}=${value}</span> `)}`;
}
