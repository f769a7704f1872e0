import { DETAIL_VALUE_CHARS } from './events-view.ts';
import { FLEET_PATH } from './layout.ts';

/**
 * The fleet pages' live part, served as it is (no build step, no framework). It listens to
 * the page's server-sent events (`body[data-events-url]`) and:
 * - puts each event on top of the events table, written with textContent only;
 * - on `sandbox.state`, updates that sandbox's row in the list, or, on the list's last page,
 *   asks the server for the new sandbox's row (the server applies the filter and escapes it);
 * - swaps in server-rendered fragments (`[data-refresh-url]`) on the event types they name
 *   (`data-refresh-on`) or every `data-refresh-every` ms, one request at a time per fragment;
 * - ticks ages (`[data-since]`) every second.
 * Without it every page still reads correctly; it just stops being live.
 */
export const LIVE_SCRIPT = `'use strict';
// hangar's fleet pages: see src/dashboard/live-script.ts.
(() => {
  const eventsUrl = document.body.dataset.eventsUrl;
  const status = document.getElementById('live-status');
  const eventRows = document.querySelector('#events tbody');
  const list = document.getElementById('sandboxes');
  const MAX_EVENT_ROWS = 200;
  const OWN_COLUMNS = ['type', 'at', 'hostId', 'sandboxId'];

  const formatTime = (iso) => (iso ? iso.replace('T', ' ').slice(0, 19) : '');
  const ago = (ms) => {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 120) return s + ' s ago';
    if (s < 7200) return Math.round(s / 60) + ' min ago';
    return Math.round(s / 3600) + ' h ago';
  };
  const tick = () => {
    for (const el of document.querySelectorAll('[data-since]')) el.textContent = ago(Number(el.dataset.since));
  };
  setInterval(tick, 1000);

  const setStatus = (state, text) => {
    if (!status) return;
    status.dataset.status = state;
    status.textContent = text;
  };

  // One request per fragment at a time, and at most one a second: a burst of events asks
  // for one more read after the current one, not one each.
  const MIN_GAP_MS = 1000;
  const fragments = new Map();
  const refresh = async (el) => {
    const state = fragments.get(el) || { busy: false, again: false, last: 0, timer: 0 };
    fragments.set(el, state);
    if (state.busy) {
      state.again = true;
      return;
    }
    const wait = state.last + MIN_GAP_MS - Date.now();
    if (wait > 0) {
      if (!state.timer) {
        state.timer = setTimeout(() => {
          state.timer = 0;
          refresh(el);
        }, wait);
      }
      return;
    }
    state.busy = true;
    state.last = Date.now();
    try {
      const response = await fetch(el.dataset.refreshUrl, { headers: { accept: 'text/html' } });
      if (response.ok) {
        el.innerHTML = await response.text();
        tick();
      }
    } catch {
      // The next event or timer tries again.
    } finally {
      state.busy = false;
      if (state.again) {
        state.again = false;
        refresh(el);
      }
    }
  };
  for (const el of document.querySelectorAll('[data-refresh-every]')) {
    setInterval(() => refresh(el), Number(el.dataset.refreshEvery));
  }
  const refreshOn = (type) => {
    for (const el of document.querySelectorAll('[data-refresh-on]')) {
      if (el.dataset.refreshOn.split(' ').includes(type)) refresh(el);
    }
  };

  const cell = (text) => {
    const td = document.createElement('td');
    td.textContent = text === undefined ? '' : String(text);
    return td;
  };
  const details = (event, maxChars) =>
    Object.entries(event)
      .filter(([key]) => !OWN_COLUMNS.includes(key))
      .map(([key, value]) => {
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        return key + '=' + (text.length > maxChars ? text.slice(0, maxChars) + '…' : text);
      })
      .join(' ');
  const addEventRow = (position, event) => {
    if (!eventRows) return;
    for (const empty of eventRows.querySelectorAll('.empty-row')) empty.remove();
    const tr = document.createElement('tr');
    tr.dataset.position = position;
    tr.dataset.type = event.type;
    tr.className = 'changed';
    tr.append(cell(formatTime(event.at)));
    const type = cell('');
    const badge = document.createElement('span');
    badge.className = 'event-type';
    badge.textContent = event.type;
    type.append(badge);
    tr.append(type);
    const sandbox = cell('');
    if (typeof event.sandboxId === 'string') {
      const a = document.createElement('a');
      a.href = '${FLEET_PATH}/sandboxes/' + encodeURIComponent(event.sandboxId);
      a.textContent = event.sandboxId;
      sandbox.append(a);
    }
    tr.append(sandbox, cell(event.hostId));
    const more = cell(details(event, ${DETAIL_VALUE_CHARS}));
    more.className = 'details';
    more.title = details(event, Infinity);
    tr.append(more);
    eventRows.prepend(tr);
    while (eventRows.rows.length > MAX_EVENT_ROWS) eventRows.lastElementChild.remove();
  };

  // Sandboxes whose row is being asked for, with the newest state event that came meanwhile.
  const asking = new Map();
  const onState = async (event) => {
    if (!list) return;
    const row = list.querySelector('tr[data-sandbox-id="' + CSS.escape(event.sandboxId) + '"]');
    if (row) {
      updateRow(row, event);
      rereadRow(event.sandboxId);
      return;
    }
    if (list.dataset.lastPage !== 'true') return;
    if (asking.has(event.sandboxId)) {
      asking.set(event.sandboxId, event);
      return;
    }
    asking.set(event.sandboxId, undefined);
    try {
      const url = list.dataset.rowUrl + '/' + encodeURIComponent(event.sandboxId) + list.dataset.rowSearch;
      const response = await fetch(url, { headers: { accept: 'text/html' } });
      if (response.status !== 200) return;
      const markup = await response.text();
      if (list.querySelector('tr[data-sandbox-id="' + CSS.escape(event.sandboxId) + '"]')) return;
      const tbody = list.tBodies[0];
      for (const empty of tbody.querySelectorAll('.empty-row')) empty.remove();
      tbody.insertAdjacentHTML('beforeend', markup);
      const added = tbody.lastElementChild;
      if (added) flash(added);
    } catch {
      // A later state event of the same sandbox asks again.
    } finally {
      const later = asking.get(event.sandboxId);
      asking.delete(event.sandboxId);
      // The row may have been read before this change: events come in order, so the newest wins.
      if (later) onState(later);
    }
  };
  // A known row is read again after a change (an address or pid comes with 'running'); the
  // state shows at once from the event. Unfiltered: a row that left the filter stays, dimmed.
  const rereading = new Map();
  const rereadRow = async (sandboxId) => {
    if (rereading.has(sandboxId)) {
      rereading.set(sandboxId, true);
      return;
    }
    rereading.set(sandboxId, false);
    try {
      const response = await fetch(list.dataset.rowUrl + '/' + encodeURIComponent(sandboxId), {
        headers: { accept: 'text/html' },
      });
      const row = list.querySelector('tr[data-sandbox-id="' + CSS.escape(sandboxId) + '"]');
      if (response.status !== 200 || !row) return;
      const template = document.createElement('template');
      template.innerHTML = (await response.text()).trim();
      const fresh = template.content.querySelector('tr');
      if (!fresh) return;
      fresh.className = row.className;
      const wanted = list.dataset.stateFilter;
      fresh.classList.toggle('stale', Boolean(wanted) && wanted !== fresh.dataset.state);
      row.replaceWith(fresh);
    } catch {
      // The state shown came from the event; the rest waits for the next change.
    } finally {
      const again = rereading.get(sandboxId);
      rereading.delete(sandboxId);
      if (again) rereadRow(sandboxId);
    }
  };
  const flash = (row) => {
    row.classList.remove('changed');
    void row.offsetWidth;
    row.classList.add('changed');
  };
  const updateRow = (row, event) => {
    row.dataset.state = event.state;
    const badge = row.querySelector('.state-badge');
    if (badge) {
      badge.dataset.state = event.state;
      badge.textContent = event.state;
    }
    const updated = row.querySelector('.updated');
    if (updated) updated.textContent = formatTime(event.at);
    // A row that no longer meets the state filter stays, dimmed, until the page is read again.
    const wanted = list.dataset.stateFilter;
    row.classList.toggle('stale', Boolean(wanted) && wanted !== event.state);
    flash(row);
  };

  if (!eventsUrl || typeof EventSource !== 'function') return;
  setStatus('connecting', 'connecting…');
  const source = new EventSource(eventsUrl);
  source.onopen = () => setStatus('live', 'live');
  source.onerror = () => setStatus('reconnecting', 'reconnecting…');
  source.onmessage = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    addEventRow(message.lastEventId, event);
    if (event.type === 'sandbox.state') onState(event);
    refreshOn(event.type);
  };
})();
`;
