import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../../src/dashboard/dashboard.ts';
import { ErrorCode } from '../../src/errors/index.ts';
import { type MetricsServer, startMetricsServer, WorkerMetrics } from '../../src/metrics/index.ts';
import { pollUntil } from '../../src/util/poll.ts';
import type { JobInstrument } from '../../src/workers/job-instruments.ts';
import { authHeader } from '../support/dashboard.ts';
import { startTestFleet, TEST_REDIS_URL, type TestFleet } from '../support/fleet.ts';
import { labelValues, type Sample, sampleValue, scrape } from '../support/prometheus.ts';

// Holds the attempts of one op until released, inside the metrics instrument (which wraps
// outermost), so a scrape sees a job in flight without racing it.
function holdingGate(op: string) {
  let release: () => void = () => undefined;
  let held: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const arrived = new Promise<void>((resolve) => {
    held = resolve;
  });
  const instrument: JobInstrument = {
    job: async (info, run) => {
      if (info.op === op) {
        held();
        await released;
      }
      return run();
    },
    step: (_info, run) => run(),
  };
  return { instrument, arrived, release };
}

const delta = (before: Sample[], after: Sample[], name: string, labels: Record<string, string>) =>
  sampleValue(after, name, labels) - sampleValue(before, name, labels);

// Real Redis, real netns/veth/nft, real file-CoW disks; Cloud Hypervisor is the simulator.
describe('Prometheus metrics of a worker and of the dashboard [CH simulator stand-in]', () => {
  const metrics = new WorkerMetrics();
  const gate = holdingGate('resume');
  let fleet: TestFleet;
  let server: MetricsServer;
  let dashboard: Dashboard;
  const auth = authHeader('prom', 'scrape-secret');

  beforeAll(async () => {
    fleet = await startTestFleet({
      hosts: ['m1'],
      network: { prefix: 'hgmt', octet: 130 },
      instruments: [metrics, gate.instrument],
    });
    metrics.observe(fleet.workers[0]!.ctx);
    server = await startMetricsServer({ registry: metrics.registry, port: 0 });
    dashboard = await startDashboard({
      redisUrl: TEST_REDIS_URL,
      keyPrefix: fleet.keyPrefix,
      port: 0,
      basicAuth: { user: 'prom', password: 'scrape-secret' },
    });
  }, 60_000);

  afterAll(async () => {
    gate.release();
    await server?.close();
    await dashboard?.close();
    await fleet?.stop();
  }, 60_000);

  // The job's outcome reaches the client inside FINISH, a moment before the attempt's
  // instrument returns: wait for the scrape to show it rather than read it once.
  const scrapeUntil = (what: string, ok: (samples: Sample[]) => boolean) =>
    pollUntil(
      what,
      async () => {
        const samples = await scrape(server.url);
        return ok(samples) ? samples : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 25 },
    );

  it('moves with the jobs a worker runs, and no label carries a sandbox or job id', async () => {
    const { client } = fleet;
    const before = await scrape(server.url);
    const fleetBefore = await scrape(`${dashboard.url}/metrics`, auth);
    expect(sampleValue(before, 'hangar_jobs_in_flight', { op: 'create' })).toBe(0);
    expect(sampleValue(before, 'hangar_worker_info', { host_id: 'm1', backend: 'cloud-hypervisor' })).toBe(1);
    const ids: string[] = [];

    const a = await client.create({ template: 'base', vcpus: 1, memoryMib: 128 });
    const created = await a.result();
    const id = String(created.sandboxId);
    ids.push(id, a.jobId);
    let now = await scrapeUntil(
      'the create counted',
      (s) =>
        delta(before, s, 'hangar_job_duration_seconds_count', { op: 'create', outcome: 'completed' }) === 1,
    );
    expect(sampleValue(now, 'hangar_sandboxes', { state: 'running' })).toBe(1);
    expect(sampleValue(now, 'hangar_vmm_processes')).toBe(1);
    for (const step of ['admit', 'network', 'disk', 'vm']) {
      expect(
        delta(before, now, 'hangar_step_duration_seconds_count', { op: 'create', step, outcome: 'ok' }),
      ).toBe(1);
    }
    expect(delta(before, now, 'hangar_ledger_write_seconds_count', {})).toBeGreaterThan(0);

    const pause = await client.pause(id);
    await pause.result();
    ids.push(pause.jobId);
    now = await scrapeUntil(
      'the pause counted',
      (s) => sampleValue(s, 'hangar_sandboxes', { state: 'paused' }) === 1,
    );
    expect(sampleValue(now, 'hangar_sandboxes', { state: 'running' })).toBe(0);

    // A job held in flight is seen as one, then as none once it ends.
    const resume = await client.resume(id);
    ids.push(resume.jobId);
    await gate.arrived;
    expect(sampleValue(await scrape(server.url), 'hangar_jobs_in_flight', { op: 'resume' })).toBe(1);
    gate.release();
    await resume.result();
    now = await scrapeUntil(
      'the resume counted',
      (s) =>
        delta(before, s, 'hangar_job_duration_seconds_count', { op: 'resume', outcome: 'completed' }) === 1,
    );
    expect(sampleValue(now, 'hangar_jobs_in_flight', { op: 'resume' })).toBe(0);

    const snapshot = await client.snapshot(id, { snapshotId: 'snap-metrics-1' });
    await snapshot.result();
    ids.push(snapshot.jobId, 'snap-metrics-1');

    // A second sandbox's snapshot under the first one's snapshot id fails for good (E_CONFLICT).
    const b = await client.create({ template: 'base', vcpus: 1, memoryMib: 128 });
    const other = String((await b.result()).sandboxId);
    ids.push(other, b.jobId);
    const conflicting = await client.snapshot(other, { snapshotId: 'snap-metrics-1' });
    ids.push(conflicting.jobId);
    await expect(conflicting.result()).rejects.toMatchObject({ code: ErrorCode.Conflict });
    now = await scrapeUntil(
      'the permanent failure counted',
      (s) =>
        delta(before, s, 'hangar_job_failures_total', { op: 'snapshot', code: ErrorCode.Conflict }) === 1,
    );
    expect(
      delta(before, now, 'hangar_job_duration_seconds_count', { op: 'snapshot', outcome: 'failed' }),
    ).toBe(1);
    expect(
      delta(before, now, 'hangar_job_duration_seconds_count', { op: 'snapshot', outcome: 'completed' }),
    ).toBe(1);
    expect(
      delta(before, now, 'hangar_step_duration_seconds_count', {
        op: 'snapshot',
        step: 'memory',
        outcome: 'ok',
      }),
    ).toBe(1);
    expect(sampleValue(now, 'hangar_sandboxes', { state: 'running' })).toBe(2);
    expect(sampleValue(now, 'hangar_vmm_processes')).toBe(2);

    // A VMM killed behind the worker's back is a crash.
    const pid = fleet.workers[0]!.ctx.vms.get(other).pid!;
    process.kill(pid, 'SIGKILL');
    now = await scrapeUntil(
      'the crash counted and the sandbox crashed',
      (s) =>
        sampleValue(s, 'hangar_vmm_crashes_total') === 1 &&
        sampleValue(s, 'hangar_sandboxes', { state: 'crashed' }) === 1,
    );
    expect(sampleValue(now, 'hangar_vmm_processes')).toBe(1);

    for (const sandbox of [id, other]) {
      const destroy = await client.destroy(sandbox);
      await destroy.result();
      ids.push(destroy.jobId);
    }
    const after = await scrapeUntil(
      'the destroys counted',
      (s) =>
        delta(before, s, 'hangar_job_duration_seconds_count', { op: 'destroy', outcome: 'completed' }) === 2,
    );
    expect(
      delta(before, after, 'hangar_job_duration_seconds_count', { op: 'create', outcome: 'completed' }),
    ).toBe(2);
    expect(
      delta(before, after, 'hangar_job_duration_seconds_count', { op: 'pause', outcome: 'completed' }),
    ).toBe(1);
    expect(
      delta(before, after, 'hangar_job_retries_total', { op: 'snapshot', code: ErrorCode.Conflict }),
    ).toBe(0);
    expect(
      delta(before, after, 'hangar_step_duration_seconds_count', {
        op: 'destroy',
        step: 'vm',
        outcome: 'ok',
      }),
    ).toBe(2);
    for (const op of ['create', 'pause', 'resume', 'snapshot', 'destroy']) {
      expect(sampleValue(after, 'hangar_jobs_in_flight', { op })).toBe(0);
    }
    expect(sampleValue(after, 'hangar_sandboxes', { state: 'running' })).toBe(0);
    expect(sampleValue(after, 'hangar_vmm_processes')).toBe(0);
    expect(after.some((s) => s.name === 'hangar_warm_slots' && s.labels.state === 'warm')).toBe(true);
    expect(after.some((s) => s.name === 'hangar_redis_errors_total')).toBe(true);
    expect(after.some((s) => s.name === 'process_cpu_seconds_total')).toBe(true);
    expectNoIds(after, ids);

    // The dashboard's fleet-wide figures moved too: two sandboxes destroyed, a job failed.
    // Scrapes within a second share one read of Redis, and a fast run gets here within it.
    const fleetAfter = await pollUntil(
      "the dashboard's next read",
      async () => {
        const samples = await scrape(`${dashboard.url}/metrics`, auth);
        return delta(fleetBefore, samples, 'hangar_fleet_sandboxes', { state: 'destroyed' }) === 2
          ? samples
          : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(sampleValue(fleetAfter, 'hangar_fleet_sandboxes', { state: 'running' })).toBe(0);
    expect(sampleValue(fleetAfter, 'hangar_fleet_hosts', { state: 'live' })).toBe(1);
    expect(
      delta(fleetBefore, fleetAfter, 'hangar_fleet_queue_jobs', {
        host_id: 'm1',
        queue: 'host',
        state: 'failed',
      }),
    ).toBe(1);
    expect(
      sampleValue(fleetAfter, 'hangar_fleet_host_capacity', { host_id: 'm1', resource: 'vcpus' }),
    ).toBeGreaterThan(0);
    expectNoIds(fleetAfter, ids);
  }, 60_000);

  it('the dashboard’s /metrics moves while a sandbox runs, and asks for the dashboard’s credentials', async () => {
    const url = `${dashboard.url}/metrics`;
    expect((await fetch(url)).status).toBe(401);
    const before = await scrape(url, auth);
    const handle = await fleet.client.create({ template: 'base', vcpus: 1, memoryMib: 128 });
    const id = String((await handle.result()).sandboxId);
    // Counters are written in the job's FINISH; the dashboard shares a second of reads.
    const during = await pollUntil(
      'the running sandbox on the dashboard',
      async () => {
        const samples = await scrape(url, auth);
        return sampleValue(samples, 'hangar_fleet_sandboxes', { state: 'running' }) === 1
          ? samples
          : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(
      sampleValue(during, 'hangar_fleet_host_used', { host_id: 'm1', resource: 'slots' }),
    ).toBeGreaterThanOrEqual(
      sampleValue(before, 'hangar_fleet_host_used', { host_id: 'm1', resource: 'slots' }),
    );
    await (await fleet.client.destroy(id)).result();
    expectNoIds(during, [id, handle.jobId]);
  }, 60_000);
});

// No label value is (or holds) an id a test made, nor looks like a generated one.
function expectNoIds(samples: Sample[], ids: readonly string[]): void {
  const values = labelValues(samples);
  for (const id of ids) expect(values.filter((value) => value.includes(id))).toEqual([]);
  expect(values.filter((value) => /\b(sb|snap|batch)-[0-9a-f]{12}\b|-\d+-[0-9a-f]{8}$/.test(value))).toEqual(
    [],
  );
}
