import { describe, expect, it } from 'vitest';
import { type CampaignReport, runCampaign } from '../../scripts/chaos/campaign.ts';
import { isNamedPermanent } from '../../scripts/chaos/job-summary.ts';
import { randomSeed } from '../../scripts/chaos/prng.ts';
import { formatReport } from '../../scripts/chaos/report.ts';
import { TEST_REDIS_URL } from '../support/redis.ts';

// A short run of `npm run chaos`: the same runner in-process, the worker a child process on
// the CH simulator. Network prefix hgct, octets 208 (phase 1) and 209 (phase 2).
const SEED = Number(process.env.HANGAR_CHAOS_SEED ?? randomSeed());

describe('the kill campaign, short [CH simulator stand-in]', () => {
  it('loses no job, does nothing twice and leaks nothing through 15 worker kills and 3 Redis kills', async () => {
    const lines: string[] = [];
    const report: CampaignReport = await runCampaign(
      {
        seed: SEED,
        workerKills: 15,
        redisKills: 3,
        // Phase 2 runs alongside phase 1's last kills, so the whole run fits well under 3 minutes.
        phase2LeadKills: 8,
        workerUptimeMs: [100, 700],
        sandboxes: 5,
        inFlight: 6,
        resultTimeoutMs: 100_000,
        // Answers still missing by then count as lost, so the test ends with a report, not a timeout.
        deadlineMs: 150_000,
        redisUrl: TEST_REDIS_URL,
        networkPrefix: 'hgct',
        octet: 208,
      },
      { log: (line) => lines.push(line) },
    );
    console.log(
      `${lines.join('\n')}\n${formatReport(report)}\n(seed ${SEED}: HANGAR_CHAOS_SEED=${SEED} repeats it)`,
    );

    expect(report.phases.map((phase) => phase.errors)).toEqual([[], []]);
    expect(report.totals.workerKills).toBeGreaterThanOrEqual(15);
    expect(report.totals.redisKills).toBe(3);
    expect(report.totals.jobsIssued).toBeGreaterThan(0);
    const lost = report.phases.flatMap((phase) => phase.jobs?.lostJobs ?? []);
    expect(lost).toEqual([]);
    expect(report.phases.map((phase) => phase.doubleEffects?.total)).toEqual([0, 0]);
    const leaks = report.phases.map((phase) => ({
      phase: phase.phase,
      beforeTeardown: phase.leaks.beforeTeardown,
      afterTeardown: phase.leaks.afterTeardown.total,
    }));
    expect(leaks.filter((leak) => (leak.beforeTeardown?.total ?? 0) + leak.afterTeardown > 0)).toEqual([]);
    // Every job was answered: completed, or failed with a named code that no retry could change.
    const failures = report.phases.flatMap((phase) => Object.keys(phase.jobs?.failed ?? {}));
    expect(failures.filter((code) => !isNamedPermanent(code))).toEqual([]);
    const childFailures = report.phases.flatMap((phase) =>
      Object.keys(phase.jobs?.batchChildren.failed ?? {}),
    );
    expect(childFailures.filter((code) => !isNamedPermanent(code))).toEqual([]);
    expect(report.ok).toBe(true);
  }, 175_000);
});
