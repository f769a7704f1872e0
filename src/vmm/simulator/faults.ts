import { isSimEndpoint, type SimEndpoint } from './endpoints.ts';

/** The injected failures of one simulator process. */
export interface FaultPlan {
  /** Exit with code 1 while handling these calls (vm.snapshot leaves a partial snapshot). */
  exitAt: Set<SimEndpoint>;
  /** Never answer these calls; the process stays alive. */
  hangAt: Set<SimEndpoint>;
  /** Answer these calls with 500 once, then normally: a transient failure. */
  failOnceAt: Set<SimEndpoint>;
  /** Do nothing on SIGTERM: only SIGKILL ends the process. */
  ignoreSigterm: boolean;
}

/** No faults. */
export function noFaults(): FaultPlan {
  return { exitAt: new Set(), hangAt: new Set(), failOnceAt: new Set(), ignoreSigterm: false };
}

/** Parses `exit-at=vm.snapshot,hang-at=vm.shutdown;ignore-sigterm` (comma or semicolon separated). */
export function parseFaults(text: string): FaultPlan {
  const plan = noFaults();
  for (const item of text
    .split(/[,;]/)
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (item === 'ignore-sigterm') {
      plan.ignoreSigterm = true;
      continue;
    }
    const [kind, endpoint = ''] = item.split('=', 2);
    const target = { 'exit-at': plan.exitAt, 'hang-at': plan.hangAt, 'fail-once-at': plan.failOnceAt }[
      kind ?? ''
    ];
    if (target === undefined) {
      throw new Error(
        `unknown fault "${item}" (known: exit-at=EP, hang-at=EP, fail-once-at=EP, ignore-sigterm)`,
      );
    }
    if (!isSimEndpoint(endpoint)) throw new Error(`fault ${kind} names an unknown endpoint "${endpoint}"`);
    target.add(endpoint);
  }
  return plan;
}

/** Whether the plan has a fail-once fault left for `endpoint`; using it up. */
export function takeFailOnce(plan: FaultPlan, endpoint: SimEndpoint): boolean {
  return plan.failOnceAt.delete(endpoint);
}

/** A one-line description for the startup log. */
export function describeFaults(plan: FaultPlan): string {
  const parts = [
    ...[...plan.exitAt].map((e) => `exit-at=${e}`),
    ...[...plan.hangAt].map((e) => `hang-at=${e}`),
    ...[...plan.failOnceAt].map((e) => `fail-once-at=${e}`),
    ...(plan.ignoreSigterm ? ['ignore-sigterm'] : []),
  ];
  return parts.length === 0 ? 'none' : parts.join(',');
}
