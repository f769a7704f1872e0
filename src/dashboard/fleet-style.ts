/** The fleet pages' stylesheet, served as it is (no build step). */
export const FLEET_CSS = `
:root {
  --fg: #1d2430; --muted: #6b7480; --line: #e3e6ea; --bg: #f6f7f9; --card: #fff; --accent: #2f5fd0;
  --ok: #1f8a4c; --warn: #b7791f; --bad: #c53030; --idle: #4a5568; --busy: #6b46c1;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 14px; color: var(--fg);
}
body { margin: 0; background: var(--bg); }
header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #1d2430; color: #fff; }
header a { color: #fff; text-decoration: none; }
header .brand { font-weight: 700; font-size: 16px; }
header .prefix { color: #aab3bf; font-family: ui-monospace, monospace; }
header nav { display: flex; gap: 14px; margin-left: 8px; }
header nav a { color: #cfd6df; }
header nav a:hover { color: #fff; text-decoration: underline; }
.live-status { margin-left: auto; font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #4a5568; }
.live-status[data-status="live"] { background: var(--ok); }
.live-status[data-status="reconnecting"] { background: var(--warn); }
main { padding: 8px 20px 40px; max-width: 1400px; }
h1 { font-size: 20px; margin: 16px 0 4px; }
h2 { font-size: 15px; margin: 22px 0 8px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 4px 16px 12px; margin-top: 14px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: #fafbfc; }
tbody tr:hover { background: #f3f6fb; }
a { color: var(--accent); }
.muted, .note, .empty { color: var(--muted); }
.note { font-size: 12px; margin: 8px 0 0; }
.free { color: var(--muted); font-size: 12px; }
.tag { font-size: 11px; padding: 1px 6px; border-radius: 8px; margin-left: 4px; border: 1px solid currentColor; }
.tag.stand-in { color: var(--warn); }
.tag.real { color: var(--ok); }
.condition, .state-badge, .job-status { font-size: 12px; font-weight: 600; padding: 2px 8px; border-radius: 10px; color: #fff; background: var(--idle); display: inline-block; }
.condition[data-condition="live"] { background: var(--ok); }
.condition[data-condition="silent"] { background: var(--warn); }
.condition[data-condition="lost"] { background: var(--bad); }
.state-badge[data-state="running"] { background: var(--ok); }
.state-badge[data-state="paused"] { background: var(--accent); }
.state-badge[data-state="creating"], .state-badge[data-state="restoring"],
.state-badge[data-state="snapshotting"], .state-badge[data-state="destroying"] { background: var(--busy); }
.state-badge[data-state="crashed"], .state-badge[data-state="failed"], .state-badge[data-state="lost"] { background: var(--bad); }
.state-badge[data-state="destroyed"] { background: #a0aec0; }
.job-status[data-status="completed"] { background: var(--ok); }
.job-status[data-status="failed"] { background: var(--bad); }
.job-status[data-status="retrying"] { background: var(--warn); }
.job-status[data-status="unfinished"] { background: var(--busy); }
.counts { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 10px; }
.count { text-decoration: none; color: var(--fg); border: 1px solid var(--line); border-radius: 12px; padding: 2px 10px; }
.count[data-state="running"] { border-color: var(--ok); }
.count[data-state="paused"] { border-color: var(--accent); }
.filter { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin: 6px 0 10px; }
.filter label { color: var(--muted); font-size: 12px; }
.filter select, .filter input { margin-left: 4px; padding: 3px 6px; }
.filter button { padding: 4px 14px; }
.label { font-family: ui-monospace, monospace; font-size: 12px; background: #eef2f7; border-radius: 4px; padding: 1px 5px; }
.paging { display: flex; gap: 16px; margin-top: 8px; }
tr.changed { animation: flash 1.5s ease-out; }
tr.stale { opacity: .5; }
@keyframes flash { from { background: #fff3bf; } to { background: transparent; } }
.events td:not(.details), .sandboxes td:not(.labels), .jobs td:nth-child(-n+4) { white-space: nowrap; }
.events td.details { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
.event-type { font-family: ui-monospace, monospace; font-size: 12px; }
dl.record { display: grid; grid-template-columns: max-content 1fr; gap: 6px 18px; margin: 8px 0; }
dl.record dt { color: var(--muted); }
dl.record dd { margin: 0; }
`;
