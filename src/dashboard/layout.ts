import { html, type SafeHtml } from './html.ts';

/** Where the fleet pages are mounted, beside Bull Board. */
export const FLEET_PATH = '/fleet';

/** The fleet pages' own paths (absolute, as Bull Board's are). */
export const fleetPaths = {
  page: FLEET_PATH,
  sandbox: (sandboxId: string) => `${FLEET_PATH}/sandboxes/${encodeURIComponent(sandboxId)}`,
  events: `${FLEET_PATH}/events`,
  style: `${FLEET_PATH}/assets/fleet.css`,
  script: `${FLEET_PATH}/assets/live.js`,
  fragment: (name: string) => `${FLEET_PATH}/fragments/${name}`,
};

/** What every fleet page shows around its own content. */
export interface PageFrame {
  title: string;
  keyPrefix: string;
  /** Bull Board's base path, for the navigation. */
  boardPath: string;
  /** The server-sent events the page listens to (absent: a page that is not live). */
  eventsUrl?: string;
}

/** A whole fleet page: head, navigation, and `content`. */
export function page(frame: PageFrame, content: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${frame.title} · hangar</title>
<link rel="stylesheet" href="${fleetPaths.style}">
<script src="${fleetPaths.script}" defer></script>
</head>
<body data-events-url="${frame.eventsUrl}">
<header>
<a class="brand" href="${fleetPaths.page}">hangar</a>
<span class="prefix" title="key prefix">${frame.keyPrefix}</span>
<nav>
<a href="${fleetPaths.page}">Fleet</a>
<a href="${frame.boardPath}">Bull Board</a>
<a href="/api/fleet">JSON</a>
</nav>
${frame.eventsUrl === undefined ? '' : html`<span id="live-status" class="live-status" data-status="off">not live</span>`}
</header>
<main>
${content}
</main>
</body>
</html>
`.text;
}

/** An ISO time as `YYYY-MM-DD HH:MM:SS` (UTC), as the live script writes it too. */
export function formatTime(iso: string | undefined): string {
  return iso === undefined ? '' : iso.replace('T', ' ').slice(0, 19);
}

/** How long ago `ms` was, coarsely (`4 s ago`, `3 min ago`, `2 h ago`), as the live script ticks it. */
export function ago(ms: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** An age that the live script keeps ticking between refreshes. */
export function since(ms: number, now = Date.now()): SafeHtml {
  return html`<span data-since="${ms}">${ago(ms, now)}</span>`;
}

/** MiB as people read them: `512 MiB`, `7.5 GiB`. */
export function formatMib(mib: number): string {
  return Math.abs(mib) >= 1024 ? `${(mib / 1024).toFixed(1).replace(/\.0$/, '')} GiB` : `${mib} MiB`;
}
