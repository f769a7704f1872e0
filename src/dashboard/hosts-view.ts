import type { HostStatus } from '../state/host-registry.ts';
import type { HostHeartbeat } from '../state/record-schemas.ts';
import { html, type SafeHtml } from './html.ts';
import { fleetPaths, formatMib, since } from './layout.ts';

/**
 * How a host stands: `live` while its heartbeat lasts, `silent` once it expired but before
 * the fleet marks the host lost, `lost` after (its sandboxes' records say so too).
 */
export function hostCondition(status: HostStatus): 'live' | 'silent' | 'lost' {
  if (status.lost) return 'lost';
  return status.heartbeat === undefined ? 'silent' : 'live';
}

/** The hosts table: every registered host, its backend, capacity used and free, pool and heartbeat. */
export function hostsTable(statuses: readonly HostStatus[], now = Date.now()): SafeHtml {
  if (statuses.length === 0) return html`<p class="empty">No host has registered yet.</p>`;
  return html`<table class="hosts">
<thead><tr>
<th>Host</th><th>Backend</th><th>vCPUs</th><th>Memory</th><th>Slots</th><th>VM pool</th><th>Heartbeat</th><th>Status</th>
</tr></thead>
<tbody>${statuses.map((status) => hostRow(status, now))}</tbody>
</table>
<p class="note">Capacity is what each host leaves for sandboxes (its VM pool apart): used / capacity, free below.</p>`;
}

function hostRow(status: HostStatus, now: number): SafeHtml {
  const beat = status.heartbeat;
  const condition = hostCondition(status);
  return html`<tr data-host-id="${status.hostId}" data-condition="${condition}">
<td><a href="${`${fleetPaths.page}?host=${encodeURIComponent(status.hostId)}`}">${status.hostId}</a></td>
<td>${beat === undefined ? html`<span class="muted">unknown</span>` : backend(beat)}</td>
<td>${beat === undefined ? '' : usage(beat.used.vcpus, beat.capacity.vcpus, String)}</td>
<td>${beat === undefined ? '' : usage(beat.used.memoryMib, beat.capacity.memoryMib, formatMib)}</td>
<td>${beat === undefined ? '' : usage(beat.used.slots, beat.capacity.slots, String)}</td>
<td>${beat === undefined ? '' : pool(beat)}</td>
<td>${heartbeatAge(status, now)}</td>
<td><span class="condition" data-condition="${condition}">${condition}</span></td>
</tr>`;
}

function backend(beat: HostHeartbeat): SafeHtml {
  return html`${beat.backend.description}
<span class="tag ${beat.backend.standIn ? 'stand-in' : 'real'}">${beat.backend.standIn ? 'stand-in' : 'real'}</span>`;
}

function usage(used: number, capacity: number, format: (n: number) => string): SafeHtml {
  return html`${format(used)} / ${format(capacity)}<br><span class="free">${format(capacity - used)} free</span>`;
}

function pool(beat: HostHeartbeat): SafeHtml | string {
  const templates = Object.entries(beat.pool);
  if (templates.length === 0) return '—';
  return html`${templates.map(
    ([template, p]) =>
      html`<div>${template}: ${p.ready} ready${p.warming > 0 ? `, ${p.warming} warming` : ''} of ${p.target}</div>`,
  )}`;
}

function heartbeatAge(status: HostStatus, now: number): SafeHtml {
  if (status.heartbeat !== undefined) return since(Date.parse(status.heartbeat.at), now);
  if (status.lastSeenMs === undefined) return html`<span class="muted">never</span>`;
  return html`<span class="muted">last</span> ${since(status.lastSeenMs, now)}`;
}
