import { type MachineInfo, machineInfo } from '../../bench/support/report.ts';
import { type CampaignOptions, type CampaignOptionsInput, parseCampaignOptions } from './options.ts';
import { type PhaseReport, runPhase } from './phase.ts';
import { Prng } from './prng.ts';

/** The whole campaign's report: both phases and the totals the exit status is decided on. */
export interface CampaignReport {
  seed: number;
  startedAt: string;
  durationMs: number;
  machine: MachineInfo;
  options: CampaignOptions;
  phases: PhaseReport[];
  totals: {
    workerKills: number;
    redisKills: number;
    jobsIssued: number;
    completed: number;
    failed: number;
    /** Failures without a named permanent code. */
    failedNotPermanent: number;
    lost: number;
    doubleEffects: number;
    leaks: number;
    harnessErrors: number;
  };
  /** True when nothing was lost, nothing happened twice, nothing leaked, and the harness ran whole. */
  ok: boolean;
}

/** Where progress lines go and how the campaign is stopped early (Ctrl-C). */
export interface CampaignHooks {
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * The kill campaign: phase 1 SIGKILLs the worker, phase 2 SIGKILLs a private Redis (and the
 * worker now and then). Phase 2 starts once phase 1's kills are over (or its last
 * `phase2LeadKills` are under way), while phase 1 still waits for its last answers, destroys
 * its sandboxes and takes its census: the two share nothing (own worker, state dir, network
 * prefix and ranges, key prefix, Redis).
 */
export async function runCampaign(
  input: CampaignOptionsInput,
  hooks: CampaignHooks = {},
): Promise<CampaignReport> {
  const options = parseCampaignOptions(input);
  const prng = new Prng(options.seed);
  const started = Date.now();
  const signal = hooks.signal ?? new AbortController().signal;
  const deadlineAt = started + options.deadlineMs;
  const logFor = (phase: number) => (line: string) =>
    hooks.log?.(`[p${phase} +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
  let startSecond = () => {};
  const secondMayStart = new Promise<void>((resolve) => {
    startSecond = resolve;
  });
  const running: Promise<PhaseReport>[] = [];
  if (options.phases.includes(1)) {
    const context = {
      options,
      prng: prng.fork('phase-1'),
      signal,
      log: logFor(1),
      deadlineAt,
      onKillsLeft: (left: number) => {
        if (left <= options.phase2LeadKills) startSecond();
      },
    };
    running.push(runPhase(1, context));
  } else {
    startSecond();
  }
  if (options.phases.includes(2)) {
    const context = { options, prng: prng.fork('phase-2'), signal, log: logFor(2), deadlineAt };
    running.push(secondMayStart.then(() => runPhase(2, context)));
  }
  const phases = await Promise.all(running);
  const sum = (pick: (phase: PhaseReport) => number) =>
    phases.reduce((total, phase) => total + pick(phase), 0);
  const count = (record: Record<string, number> | undefined) =>
    Object.values(record ?? {}).reduce((total, n) => total + n, 0);
  const totals = {
    workerKills: sum((phase) => phase.kills.worker),
    redisKills: sum((phase) => phase.kills.redis),
    jobsIssued: sum((phase) => phase.jobs?.issued ?? 0),
    completed: sum((phase) => phase.jobs?.completed ?? 0),
    failed: sum((phase) => count(phase.jobs?.failed)),
    failedNotPermanent: sum((phase) => count(phase.jobs?.failedNotPermanent)),
    lost: sum((phase) => phase.jobs?.lost ?? 0),
    doubleEffects: sum((phase) => phase.doubleEffects?.total ?? 0),
    leaks: sum((phase) => phase.leaks.total),
    harnessErrors: sum((phase) => phase.errors.length),
  };
  return {
    seed: options.seed,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    machine: machineInfo(),
    options,
    phases,
    totals,
    ok: totals.lost === 0 && totals.doubleEffects === 0 && totals.leaks === 0 && totals.harnessErrors === 0,
  };
}
