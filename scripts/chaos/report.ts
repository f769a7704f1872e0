import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CampaignReport } from './campaign.ts';
import type { PhaseReport } from './phase.ts';
import type { RecoverySummary } from './recovery.ts';

/** Writes the report as `chaos-<start time>.json` into `dir`; returns the path. */
export async function writeReport(dir: string, report: CampaignReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `chaos-${report.startedAt.replaceAll(':', '-')}.json`);
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

/** The report as a few readable lines: per phase, then the totals and the verdict. */
export function formatReport(report: CampaignReport): string {
  const lines = [
    `hangar chaos: seed ${report.seed}, ${report.phases.length} phase(s), ${seconds(report.durationMs)} on ${report.machine.cpus} cpu`,
  ];
  for (const phase of report.phases) lines.push(...formatPhase(phase));
  const t = report.totals;
  lines.push(
    `totals: ${t.workerKills} worker kills, ${t.redisKills} Redis kills; ${t.jobsIssued} jobs: ${t.completed} completed, ${t.failed} failed (${t.failedNotPermanent} without a named permanent code), ${t.lost} lost; ${t.doubleEffects} double effects; ${t.leaks} leaked objects; ${t.harnessErrors} harness errors`,
    report.ok ? 'verdict: OK (nothing lost, nothing twice, nothing leaked)' : 'verdict: FAIL',
  );
  return lines.join('\n');
}

function formatPhase(phase: PhaseReport): string[] {
  const title = phase.phase === 1 ? 'worker kills' : 'Redis kills';
  const jobs = phase.jobs;
  const lines = [
    `phase ${phase.phase} (${title}; ${phase.redis}; network ${phase.network.prefix}): ${seconds(phase.durationMs)}, ${phase.kills.worker} worker kills, ${phase.kills.redis} Redis kills, ${phase.kills.unexpectedWorkerExits.length} unexpected worker exits, ${phase.kills.failedWorkerStarts} failed starts`,
  ];
  if (phase.calls !== undefined) {
    const c = phase.calls;
    lines.push(
      `  calls: ${c.calls} (${c.keyed} keyed, ${c.repeats} repeated), sent again: ${c.redisRetries} after Redis was down, ${c.hostRetries} with no live host; refused ${counts(c.refused)}; errors ${counts(c.errors)}; gave up ${c.gaveUp}`,
    );
  }
  if (jobs !== undefined) {
    const lostHow: Record<string, number> = {};
    for (const lost of jobs.lostJobs) lostHow[lost.lostHow] = (lostHow[lost.lostHow] ?? 0) + 1;
    const recorded = jobs.lostJobs.filter((job) => job.outcomeRecorded).length;
    lines.push(
      `  jobs: ${jobs.issued} issued, ${jobs.completed} completed, failed ${counts(jobs.failed)}, ${jobs.lost} lost (${counts(lostHow)}; ${recorded} with an outcome record)`,
      `  through outages: ${jobs.sentAgainAfterRedisDown} jobs reached again by their key after Redis was down, ${jobs.resultRetries} result() calls made again; batch children ${jobs.batchChildren.completed} ok, failed ${counts(jobs.batchChildren.failed)}`,
    );
    if (Object.keys(jobs.failedNotPermanent).length > 0) {
      lines.push(`  failed without a named permanent code: ${counts(jobs.failedNotPermanent)}`);
    }
    for (const lost of jobs.lostJobs.slice(0, 8)) {
      lines.push(
        `    lost ${lost.jobId} (${lost.lostHow}; BullMQ ${lost.bull.state}${lost.bull.failedReason ? `: ${lost.bull.failedReason}` : ''}; outcome record ${lost.outcomeRecorded ? 'yes' : 'no'})`,
      );
    }
    if (jobs.lostJobs.length > 8) lines.push(`    ... ${jobs.lostJobs.length - 8} more in the JSON report`);
  }
  const d = phase.doubleEffects;
  if (d !== undefined) {
    lines.push(
      `  double effects: ${d.total} (snapshot twice ${d.snapshotTwice.length}, created twice ${d.createdTwice.length}, destroyed sandbox back ${d.destroyedBack.length}, key answered with two jobs ${d.keyTwoJobs.length}) from ${phase.eventsRead} events; ${d.reannounced} completions announced again (one effect each, not counted)`,
    );
  }
  const before = phase.leaks.beforeTeardown;
  const leakKinds: Record<string, string[]> =
    before === undefined ? {} : { ...before.host, ...before.files, ...before.redis };
  lines.push(
    `  leaks: ${phase.leaks.total} (${counts(Object.fromEntries(Object.entries(leakKinds).map(([kind, list]) => [kind, list.length])))}; after teardown ${phase.leaks.afterTeardown.total})`,
  );
  if (phase.queuesSettled !== undefined && phase.queuesSettled.waitedMs > 1_000) {
    const { idle, waitedMs } = phase.queuesSettled;
    lines.push(
      `  queues ${idle ? 'emptied' : 'still held unfinished jobs'} ${seconds(waitedMs)} after the last answer`,
    );
  }
  if (before !== undefined && before.sequenceHoles.length > 0) {
    lines.push(
      `  finding: ${before.sequenceHoles.length} sandboxes with job numbers taken but never finished`,
    );
  }
  lines.push(
    `  time to answer after the restart, for jobs caught by a kill: worker ${recovery(phase.recovery.afterWorkerKill)}; Redis ${recovery(phase.recovery.afterRedisKill)}`,
  );
  for (const error of phase.errors) lines.push(`  harness error: ${error}`);
  return lines;
}

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record).filter(([, n]) => n > 0);
  return entries.length === 0 ? 'none' : entries.map(([key, n]) => `${key} ${n}`).join(', ');
}

function recovery(summary: RecoverySummary): string {
  if (summary.n === 0) return 'no samples';
  const q = (x: RecoverySummary['fromFirstKill']) =>
    `p50 ${seconds(x.p50Ms ?? 0)}, p99 ${seconds(x.p99Ms ?? 0)}, max ${seconds(x.maxMs ?? 0)}`;
  return `${q(summary.fromFirstKill)} from the first kill that caught them (n=${summary.n}; from the last: ${q(summary.fromLastKill)})`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
