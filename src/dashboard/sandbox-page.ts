import { recentEvents } from '../events/event-history.ts';
import { hostQueueName } from '../queues/names.ts';
import type { SandboxRecord } from '../state/record-schemas.ts';
import { eventsTable } from './events-view.ts';
import type { FleetContext } from './fleet-context.ts';
import { html, type SafeHtml } from './html.ts';
import { fleetPaths, formatMib, formatTime, page } from './layout.ts';
import { type SandboxJob, sandboxJobs } from './sandbox-jobs.ts';
import { labelChips } from './sandboxes-view.ts';

// How many of a sandbox's events its page shows (the newest; live ones are added on top).
const EVENTS_SHOWN = 50;

/** The sandbox's record as a definition list. */
export function recordView(record: SandboxRecord): SafeHtml {
  const row = (term: string, value: SafeHtml | string | number | undefined) =>
    value === undefined || value === '' ? '' : html`<dt>${term}</dt><dd>${value}</dd>`;
  return html`<dl class="record">
${row('Sandbox', record.sandboxId)}
${row('Host', html`<a href="${`${fleetPaths.page}?host=${encodeURIComponent(record.hostId)}`}">${record.hostId}</a>`)}
${row('State', html`<span class="state-badge" data-state="${record.state}">${record.state}</span>`)}
${row('Template', record.template)}
${row('Shape', `${record.vcpus} vCPU, ${formatMib(record.memoryMib)}`)}
${row('Labels', Object.keys(record.labels).length === 0 ? undefined : labelChips(record.labels))}
${row('Address', record.address)}
${row('Network slot', record.slot)}
${row('From snapshot', record.fromSnapshot)}
${row('Disk bytes', record.diskBytes)}
${row('VMM pid', record.pid)}
${row('Last error', record.lastError === undefined ? undefined : `${record.lastError.code}: ${record.lastError.message}`)}
${row('Created', formatTime(record.createdAt))}
${row('Updated', formatTime(record.updatedAt))}
</dl>`;
}

/** The sandbox's jobs, each linking into Bull Board (every sandbox job runs on its host's queue). */
export function jobsView(ctx: FleetContext, record: SandboxRecord, jobs: readonly SandboxJob[]): SafeHtml {
  const queue = hostQueueName(record.hostId);
  const link = (jobId: string) =>
    `${ctx.boardPath}/queue/${encodeURIComponent(queue)}/${encodeURIComponent(jobId)}`;
  const body =
    jobs.length === 0
      ? html`<tr class="empty-row"><td colspan="5">No job in the stream's recent events.</td></tr>`
      : jobs.map(
          (job) => html`<tr data-job-id="${job.jobId}" data-status="${job.status}">
<td><a class="board-link" href="${link(job.jobId)}">${job.jobId}</a></td>
<td>${job.op}</td>
<td><span class="job-status" data-status="${job.status}">${job.status}</span></td>
<td>${formatTime(job.at)}</td>
<td>${job.error === undefined ? '' : `${job.error.code}: ${job.error.message}`}${job.attempt === undefined ? '' : ` (attempt ${job.attempt})`}</td>
</tr>`,
        );
  return html`<table class="jobs">
<thead><tr><th>Job (in Bull Board)</th><th>Op</th><th>Status</th><th>At</th><th>Error</th></tr></thead>
<tbody>${body}</tbody>
</table>
<p class="note">Jobs run on the queue <b>${queue}</b>. BullMQ drops a job as soon as it completes (hangar keeps
its outcome for a day), so Bull Board still shows unfinished and failed jobs only.</p>`;
}

/** The record fragment (swapped in when the sandbox's state changes); undefined when there is no such sandbox. */
export async function recordFragment(ctx: FleetContext, sandboxId: string): Promise<SafeHtml | undefined> {
  const record = await ctx.store.getSandbox(sandboxId);
  return record === undefined ? undefined : recordView(record);
}

/** The jobs fragment (swapped in when one of its jobs ends). */
export async function jobsFragment(ctx: FleetContext, sandboxId: string): Promise<SafeHtml | undefined> {
  const record = await ctx.store.getSandbox(sandboxId);
  if (record === undefined) return undefined;
  const [unfinished, recent] = await Promise.all([
    ctx.store.sequences.unfinished(record.hostId, sandboxId),
    recentEvents(ctx.redis, ctx.keys, { sandboxId, limit: EVENTS_SHOWN }),
  ]);
  return jobsView(ctx, record, sandboxJobs(sandboxId, unfinished, recent.events));
}

/**
 * `/fleet/sandboxes/:id`: the record, its recent jobs with links into Bull Board, and its
 * events (the newest the stream holds, then live ones). Undefined when there is no such sandbox.
 */
export async function sandboxPage(ctx: FleetContext, sandboxId: string): Promise<string | undefined> {
  const record = await ctx.store.getSandbox(sandboxId);
  if (record === undefined) return undefined;
  const [unfinished, recent] = await Promise.all([
    ctx.store.sequences.unfinished(record.hostId, sandboxId),
    recentEvents(ctx.redis, ctx.keys, { sandboxId, limit: EVENTS_SHOWN }),
  ]);
  const fragment = (part: string) => fleetPaths.fragment(`sandbox/${encodeURIComponent(sandboxId)}/${part}`);
  const content = html`<h1>Sandbox ${sandboxId}</h1>
<section>
<h2>Record</h2>
<div id="record" data-refresh-url="${fragment('record')}" data-refresh-on="sandbox.state sandbox.crashed host.lost host.recovered">${recordView(record)}</div>
</section>
<section>
<h2>Recent jobs</h2>
<div id="jobs" data-refresh-url="${fragment('jobs')}" data-refresh-on="job.completed job.failed sandbox.state">${jobsView(ctx, record, sandboxJobs(sandboxId, unfinished, recent.events))}</div>
</section>
<section>
<h2>Events</h2>
${eventsTable(recent.events, 'No event of this sandbox is left in the stream.')}
<p class="note">${recent.complete ? 'Every event of this sandbox the stream still holds' : `The newest ${recent.events.length}`}, newest first; new ones appear on top as they arrive.</p>
</section>`;
  return page(
    {
      title: `Sandbox ${sandboxId}`,
      keyPrefix: ctx.keys.keyPrefix,
      boardPath: ctx.boardPath,
      eventsUrl: `${fleetPaths.events}?sandboxId=${encodeURIComponent(sandboxId)}&after=${encodeURIComponent(recent.head)}`,
    },
    content,
  );
}
