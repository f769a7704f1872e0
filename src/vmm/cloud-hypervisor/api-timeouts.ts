/** Per-call deadlines in ms, by kind of call. */
export interface ChTimeouts {
  /** Every call not covered below (info, pause, resume, counters, device changes). */
  default: number;
  /** vm.create and vm.boot: CH allocates (and may prefault) guest memory here. */
  boot: number;
  /** vm.snapshot: writes all guest memory. */
  snapshot: number;
  /** vm.restore: reads it back. */
  restore: number;
  /** vm.shutdown and vmm.shutdown. */
  shutdown: number;
  /** vm.receive-migration, which CH answers only once the whole VM has arrived. */
  migration: number;
}

/** The deadlines used when none are given; a migration gets CH's own default timeout (one hour). */
export const DEFAULT_CH_TIMEOUTS: Readonly<ChTimeouts> = {
  default: 5_000,
  boot: 30_000,
  snapshot: 120_000,
  restore: 120_000,
  shutdown: 30_000,
  migration: 3_600_000,
};

/** One kind of call. */
export type ChCallKind = keyof ChTimeouts;

/**
 * The deadlines for the overrides given. Giving `default` alone sets every kind of call to it
 * (a caller that wants "answer within 300 ms or I escalate" means every call).
 */
export function resolveTimeouts(given: Partial<ChTimeouts> = {}): ChTimeouts {
  const base: ChTimeouts =
    given.default === undefined
      ? { ...DEFAULT_CH_TIMEOUTS }
      : {
          default: given.default,
          boot: given.default,
          snapshot: given.default,
          restore: given.default,
          shutdown: given.default,
          migration: given.default,
        };
  for (const kind of Object.keys(base) as ChCallKind[]) {
    const value = given[kind];
    if (value !== undefined) base[kind] = value;
  }
  return base;
}
