import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import {
  failureOf,
  type HostNote,
  type JobInfo,
  type JobInstrument,
  type StepInfo,
} from '../workers/job-instruments.ts';
import { type HostGaugeSource, registerHostGauges } from './host-gauges.ts';

// Jobs run from a few milliseconds (pause on a warm VMM) to minutes (a cold create with a
// readiness wait, a snapshot of a large VM).
const JOB_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
// One fdatasync'd append: sub-millisecond on a good disk, a second is a sick one.
const LEDGER_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** How a job attempt ended, as the job histogram labels it. */
export type AttemptOutcome = 'completed' | 'retried' | 'failed';

/**
 * A host worker's Prometheus metrics, as a job instrument: job and step durations, jobs in
 * flight, retries and permanent failures by error code, VMM crashes, Redis connection errors
 * and ledger write latency, plus the host's figures read at scrape time once `observe`d.
 * Labels are bounded sets (op, outcome, step, error code, state, template): never a sandbox
 * or job id. Each instance has its own registry, so several workers in one process never mix.
 */
export class WorkerMetrics implements JobInstrument {
  /** What GET /metrics serves. */
  readonly registry = new Registry();
  readonly #jobSeconds: Histogram<'op' | 'outcome'>;
  readonly #stepSeconds: Histogram<'op' | 'step' | 'outcome'>;
  readonly #inFlight: Gauge<'op'>;
  readonly #retries: Counter<'op' | 'code'>;
  readonly #failures: Counter<'op' | 'code'>;
  readonly #crashes: Counter;
  readonly #redisErrors: Counter;
  readonly #ledgerSeconds: Histogram;
  #observed = false;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#jobSeconds = new Histogram({
      name: 'hangar_job_duration_seconds',
      help: 'Job attempts by operation and outcome (completed, retried, failed for good): the time each ran, past the ordering gate and the sandbox lock',
      labelNames: ['op', 'outcome'],
      buckets: JOB_BUCKETS,
      registers,
    });
    this.#stepSeconds = new Histogram({
      name: 'hangar_step_duration_seconds',
      help: 'Operation steps by operation, step and outcome (ok, failed)',
      labelNames: ['op', 'step', 'outcome'],
      buckets: JOB_BUCKETS,
      registers,
    });
    this.#inFlight = new Gauge({
      name: 'hangar_jobs_in_flight',
      help: 'Job attempts running now, by operation',
      labelNames: ['op'],
      registers,
    });
    this.#retries = new Counter({
      name: 'hangar_job_retries_total',
      help: 'Job attempts that failed with a retry to follow, by operation and error code',
      labelNames: ['op', 'code'],
      registers,
    });
    this.#failures = new Counter({
      name: 'hangar_job_failures_total',
      help: 'Jobs that failed for good (a permanent error, or the last attempt), by operation and error code',
      labelNames: ['op', 'code'],
      registers,
    });
    this.#crashes = new Counter({
      name: 'hangar_vmm_crashes_total',
      help: 'VMM exits nobody asked for (sandboxes only; a crashed pool VM is replaced)',
      registers,
    });
    this.#redisErrors = new Counter({
      name: 'hangar_redis_errors_total',
      help: "Errors reported by the worker's Redis connections (each failed connect or lost link)",
      registers,
    });
    this.#ledgerSeconds = new Histogram({
      name: 'hangar_ledger_write_seconds',
      help: 'Host ledger writes: one journal append and fdatasync, carrying every change that met',
      buckets: LEDGER_BUCKETS,
      registers,
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Adds the host's figures (sandboxes by state, warm slots and VMs, VMM processes), read at each scrape. */
  observe(host: HostGaugeSource): void {
    if (this.#observed) return;
    this.#observed = true;
    registerHostGauges(this.registry, host);
  }

  async job<T>(info: JobInfo, run: () => Promise<T>): Promise<T> {
    const end = this.#jobSeconds.startTimer({ op: info.op });
    this.#inFlight.inc({ op: info.op });
    try {
      const result = await run();
      end({ outcome: 'completed' });
      return result;
    } catch (error) {
      const { final, code } = failureOf(info, error);
      end({ outcome: final ? 'failed' : 'retried' });
      (final ? this.#failures : this.#retries).inc({ op: info.op, code });
      throw error;
    } finally {
      this.#inFlight.dec({ op: info.op });
    }
  }

  async step<T>(info: StepInfo, run: () => Promise<T>): Promise<T> {
    const end = this.#stepSeconds.startTimer({ op: info.job.op, step: info.step });
    try {
      const result = await run();
      end({ outcome: 'ok' });
      return result;
    } catch (error) {
      end({ outcome: 'failed' });
      throw error;
    }
  }

  note(note: HostNote): void {
    if (note.kind === 'vmm-crash') this.#crashes.inc();
    else if (note.kind === 'redis-error') this.#redisErrors.inc();
    else this.#ledgerSeconds.observe(note.ms / 1000);
  }
}
