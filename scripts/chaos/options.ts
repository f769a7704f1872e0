import { z } from 'zod';

/** The simulator latencies of the campaign: long enough for a kill to land mid-operation. */
export const DEFAULT_SIM_LATENCY = 'boot=150,pause=40,resume=40,snapshot=200,restore=150,shutdown=50';

const Range = z
  .tuple([z.number().int().min(0), z.number().int().min(0)])
  .refine(([min, max]) => min <= max, 'min must not exceed max');

/**
 * What a kill campaign does, with its defaults (those of `npm run chaos`). Every duration is
 * in milliseconds; a range is [min, max] and each draw from it is uniform.
 */
export const CampaignOptions = z
  .object({
    /** Seeds every random decision; printed so a run can be repeated. */
    seed: z.number().int().min(0).max(0xffff_ffff),
    /** Which phases run: 1 kills the worker, 2 kills a private Redis (and the worker, less often). */
    phases: z
      .array(z.union([z.literal(1), z.literal(2)]))
      .min(1)
      .default([1, 2]),
    /** Worker SIGKILLs in phase 1. */
    workerKills: z.number().int().min(0).default(100),
    /** redis-server SIGKILLs in phase 2. */
    redisKills: z.number().int().min(0).default(10),
    /** Phase 2 starts when phase 1 has this many worker kills left (0: once they are all done). */
    phase2LeadKills: z.number().int().min(0).default(10),
    /** Chance that a phase 2 Redis kill also kills the worker (never in the last two). */
    phase2WorkerKillChance: z.number().min(0).max(1).default(0.3),
    /** How long a worker runs after it says it is consuming before the next kill. */
    workerUptimeMs: Range.default([100, 1_600]),
    /** How long a killed worker (or Redis) stays down before it is started again. */
    restartDelayMs: Range.default([0, 1_500]),
    /** How long Redis runs between kills in phase 2. */
    redisUptimeMs: Range.default([1_500, 4_000]),
    /** Sandboxes the workload keeps alive at once. */
    sandboxes: z.number().int().min(1).max(100).default(10),
    /** Workload calls in flight at once (a call is in flight until its result came). */
    inFlight: z.number().int().min(1).max(64).default(16),
    /** Share of calls made with an idempotency key (phase 2 keys every call, so it can retry). */
    keyedShare: z.number().min(0).max(1).default(0.4),
    /** Share of keyed calls sent twice with the same key (concurrently or one after the other). */
    repeatShare: z.number().min(0).max(1).default(0.25),
    /** How long each result() is awaited before the job counts as lost. */
    resultTimeoutMs: z.number().int().min(1_000).default(180_000),
    /**
     * After the kills, a job still unanswered when the run's queues have held no job at all
     * (nothing waiting, active, delayed or waiting for children) for this long can never be
     * answered: it counts as lost without waiting out its timeout.
     */
    quiescentMs: z.number().int().min(500).default(5_000),
    /**
     * The campaign's time budget from its start: the waits for answers end in time to destroy,
     * count and tear down by then (jobs still unanswered count as lost, marked 'deadline'). The
     * kills always all happen; each wait gets at least 15 s.
     */
    deadlineMs: z.number().int().min(30_000).default(570_000),
    /** HANGAR_SIM_LATENCY for the worker; its VMM processes inherit its environment. */
    simLatency: z.string().default(DEFAULT_SIM_LATENCY),
    /** Phase 1's Redis (phase 2 starts its own). */
    redisUrl: z
      .string()
      .regex(/^redis:\/\/\S+$/)
      .default('redis://127.0.0.1:6379'),
    /** Four characters; phase n names its network objects `<prefix><n>-ns-N` and so on. */
    networkPrefix: z
      .string()
      .regex(/^[a-z][a-z0-9]{3}$/, 'must be 4 chars of a-z and 0-9, starting with a letter')
      .default('hgch'),
    /** Phase n takes 10.<octet + n - 1>.0.0/16: its lower half for veths, its upper half for hosts. */
    octet: z.number().int().min(1).max(253).default(206),
    /** Appends each worker incarnation's output here (off by default). */
    workerLogDir: z.string().optional(),
  })
  .strict();
export type CampaignOptions = z.output<typeof CampaignOptions>;
export type CampaignOptionsInput = z.input<typeof CampaignOptions>;

/** Validates campaign options and applies the defaults; the error names each bad field. */
export function parseCampaignOptions(input: unknown): CampaignOptions {
  const parsed = CampaignOptions.safeParse(input);
  if (!parsed.success) throw new Error(`invalid chaos options:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
