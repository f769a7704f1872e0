import type { HangarEvent, PositionedEvent } from '../events/event-schemas.ts';
import { html, type SafeHtml } from './html.ts';
import { fleetPaths, formatTime } from './layout.ts';

// Shown in their own columns; every other field goes into the details.
const OWN_COLUMNS = new Set(['type', 'at', 'hostId', 'sandboxId']);

/** How much of one value the details show (a job's whole result is in the row's tooltip). */
export const DETAIL_VALUE_CHARS = 60;

/**
 * An event's other fields as `key=value` words, each value cut at `maxChars`, the same way
 * the live script writes the events it receives, so history and live rows read alike.
 */
export function eventDetails(event: HangarEvent, maxChars = Number.POSITIVE_INFINITY): string {
  return Object.entries(event)
    .filter(([key]) => !OWN_COLUMNS.has(key))
    .map(([key, value]) => {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      return `${key}=${text.length > maxChars ? `${text.slice(0, maxChars)}…` : text}`;
    })
    .join(' ');
}

/** The events panel: newest first; the live script puts new events on top. */
export function eventsTable(events: readonly PositionedEvent[], emptyText: string): SafeHtml {
  return html`<table id="events" class="events">
<thead><tr><th>Time</th><th>Event</th><th>Sandbox</th><th>Host</th><th>Details</th></tr></thead>
<tbody>${events.length === 0 ? html`<tr class="empty-row"><td colspan="5">${emptyText}</td></tr>` : events.map(eventRow)}</tbody>
</table>`;
}

function eventRow({ position, event }: PositionedEvent): SafeHtml {
  const sandboxId = 'sandboxId' in event ? event.sandboxId : undefined;
  return html`<tr data-position="${position}" data-type="${event.type}">
<td>${formatTime(event.at)}</td>
<td><span class="event-type">${event.type}</span></td>
<td>${sandboxId === undefined ? '' : html`<a href="${fleetPaths.sandbox(sandboxId)}">${sandboxId}</a>`}</td>
<td>${event.hostId}</td>
<td class="details" title="${eventDetails(event)}">${eventDetails(event, DETAIL_VALUE_CHARS)}</td>
</tr>`;
}
