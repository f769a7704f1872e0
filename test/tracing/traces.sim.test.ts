import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../src/util/poll.ts';
import { startTestFleet, TEST_REDIS_URL, type TestFleet } from '../support/fleet.ts';
import { loadedModules } from '../support/module-graph.ts';

const CLIENT = fileURLToPath(new URL('./support/traced-client.ts', import.meta.url));
const OTEL_VARS = [
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_SDK_DISABLED',
  'OTEL_SERVICE_NAME',
];
/** The OTEL_* variables blanked (an empty variable counts as unset), so a child inherits none. */
const NO_OTEL = Object.fromEntries(OTEL_VARS.map((name) => [name, '']));

// The test process plays an app that runs its own OpenTelemetry SDK: spans end up in memory.
// hangar's client and the in-process worker use that provider once OTEL_* turns tracing on.
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const saved = Object.fromEntries(OTEL_VARS.map((name) => [name, process.env[name]]));

beforeAll(() => {
  for (const name of OTEL_VARS) delete process.env[name];
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});

afterAll(async () => {
  trace.disable();
  propagation.disable();
  context.disable();
  await provider.shutdown();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/**
 * Waits until the exporter holds the worker's job span of a sandbox and the BullMQ process
 * span around it: BullMQ ends its span after it has marked the job completed, so a moment
 * after the client has its result.
 */
function spansOfJobFor(sandboxId: string): Promise<ReadableSpan[]> {
  return pollUntil(
    `the job span of ${sandboxId} and its parent`,
    async () => {
      const spans = exporter.getFinishedSpans();
      const job = spans.find(
        (span) => span.name === 'hangar.job create' && span.attributes['hangar.sandbox_id'] === sandboxId,
      );
      const parent = job?.parentSpanContext?.spanId;
      return spans.some((span) => span.spanContext().spanId === parent) ? spans : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 25 },
  );
}

/** The names from a span up to its trace's root, through parent span ids. */
function ancestry(span: ReadableSpan, spans: readonly ReadableSpan[]): string[] {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const names: string[] = [];
  for (let at: ReadableSpan | undefined = span; at !== undefined; ) {
    names.push(at.name);
    const parent: string | undefined = at.parentSpanContext?.spanId;
    at = parent === undefined ? undefined : byId.get(parent);
  }
  return names;
}

// Real Redis, real netns/veth/nft, real file-CoW disks; Cloud Hypervisor is the simulator.
describe('with no OTEL_* configuration [CH simulator stand-in]', () => {
  let fleet: TestFleet;

  beforeAll(async () => {
    fleet = await startTestFleet({ hosts: ['t0'], network: { prefix: 'hgto', octet: 133, halves: true } });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('exports nothing, though the process has a tracer provider', async () => {
    exporter.reset();
    const handle = await fleet.client.create({ template: 'base', vcpus: 1, memoryMib: 128 });
    const id = String((await handle.result()).sandboxId);
    await (await fleet.client.destroy(id)).result();
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual([]);
  });

  it('loads no OpenTelemetry module in a client process, and the SDK once OTEL_* asks for it', async () => {
    const otelModules = async (otel: Record<string, string>) => {
      const env = { ...NO_OTEL, ...otel, REDIS_URL: TEST_REDIS_URL, HANGAR_KEY_PREFIX: fleet.keyPrefix };
      const urls = await loadedModules(pathToFileURL(CLIENT).href, { env });
      return urls.filter((url) => /\/node_modules\/(@opentelemetry\/[^/]+|bullmq-otel)\//.test(url));
    };
    expect(await otelModules({})).toEqual([]);
    const on = await otelModules({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
    });
    expect(on.some((url) => url.includes('/node_modules/@opentelemetry/sdk-trace/'))).toBe(true);
    expect(on.some((url) => url.includes('/node_modules/@opentelemetry/exporter-trace-otlp-http/'))).toBe(
      true,
    );
  });
});

describe('with OTEL_* configured [CH simulator stand-in]', () => {
  let fleet: TestFleet;
  let collector: Server;
  let collectorUrl: string;
  const received: unknown[] = [];

  beforeAll(async () => {
    process.env.OTEL_TRACES_EXPORTER = 'otlp';
    fleet = await startTestFleet({ hosts: ['t1'], network: { prefix: 'hgtr', octet: 132, halves: true } });
    // An OTLP/HTTP collector standing in for a real one: it keeps what is posted to /v1/traces.
    collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.url === '/v1/traces') received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
    await new Promise((resolve) => collector?.close(resolve));
  }, 60_000);

  afterEach(() => exporter.reset());

  it('one create is one trace: the producer’s span, BullMQ’s add and process, the worker’s job and its steps', async () => {
    const handle = await fleet.client.create({ template: 'base', vcpus: 1, memoryMib: 128 });
    const id = String((await handle.result()).sandboxId);
    const spans = await spansOfJobFor(id);

    const root = spans.find(
      (span) => span.name === 'hangar.create' && span.attributes['hangar.sandbox_id'] === id,
    );
    expect(root?.parentSpanContext).toBeUndefined();
    expect(root?.attributes).toMatchObject({ 'hangar.host_id': 't1', 'hangar.job_id': handle.jobId });
    const traceId = root!.spanContext().traceId;
    const ofThisSandbox = spans.filter((span) => span.attributes['hangar.sandbox_id'] === id);
    expect(new Set(ofThisSandbox.map((span) => span.spanContext().traceId))).toEqual(new Set([traceId]));

    const vmStep = spans.find(
      (span) => span.name === 'hangar.step vm' && span.attributes['hangar.sandbox_id'] === id,
    );
    expect(vmStep?.attributes).toMatchObject({
      'hangar.sandbox_id': id,
      'hangar.host_id': 't1',
      'hangar.op': 'create',
      'hangar.attempt': 1,
      'hangar.job_id': handle.jobId,
      'hangar.step': 'vm',
    });
    expect(ancestry(vmStep!, spans)).toEqual([
      'hangar.step vm',
      'hangar.job create',
      'process host-t1',
      'add host-t1.create',
      'hangar.create',
    ]);
    const steps = ofThisSandbox
      .filter((span) => span.name.startsWith('hangar.step '))
      .map((span) => span.name);
    expect(steps).toEqual(
      expect.arrayContaining(['hangar.step admit', 'hangar.step network', 'hangar.step disk']),
    );
    // The worker's polling and lock upkeep make no traces of their own.
    expect(spans.filter((span) => span.parentSpanContext === undefined).map((span) => span.name)).toEqual([
      'hangar.create',
    ]);
    await (await fleet.client.destroy(id)).result();
  });

  it('a batch snapshot and a snapshot delete are traces of their own that the worker’s jobs join', async () => {
    const { client } = fleet;
    const created = await client.create({ template: 'base', vcpus: 1, memoryMib: 128 });
    const id = String((await created.result()).sandboxId);
    await spansOfJobFor(id);
    exporter.reset();

    const jobSpan = (op: string) =>
      pollUntil(
        `the worker's ${op} job span of ${id} with its ancestors`,
        async () => {
          const spans = exporter.getFinishedSpans();
          const job = spans.find(
            (span) => span.name === `hangar.job ${op}` && span.attributes['hangar.sandbox_id'] === id,
          );
          const names = job === undefined ? [] : ancestry(job, spans);
          return names.at(-1)?.startsWith('hangar.') && names.length > 2
            ? { job: job!, names, spans }
            : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 25 },
      );

    const batch = await client.snapshotBatch([id], { batchId: 'traced-batch' });
    await batch.parent.result();
    const snapshot = await jobSpan('snapshot');
    expect(snapshot.names.at(-1)).toBe('hangar.snapshot-batch');
    const batchRoot = snapshot.spans.find((span) => span.name === 'hangar.snapshot-batch');
    expect(batchRoot?.parentSpanContext).toBeUndefined();
    expect(batchRoot?.attributes).toMatchObject({
      'hangar.batch_id': 'traced-batch',
      'hangar.batch_size': 1,
    });
    expect(snapshot.job.spanContext().traceId).toBe(batchRoot?.spanContext().traceId);

    const snapshotId = String(batch.snapshotIds[id]);
    const deleting = await client.deleteSnapshot(snapshotId);
    await deleting.result();
    const deleted = await jobSpan('delete-snapshot');
    expect(deleted.names.at(-1)).toBe('hangar.delete-snapshot');
    const deleteRoot = deleted.spans.find((span) => span.name === 'hangar.delete-snapshot');
    expect(deleteRoot?.attributes).toMatchObject({
      'hangar.job_id': deleting.jobId,
      'hangar.sandbox_id': id,
    });
    await (await client.destroy(id)).result();
  });

  it('a client in another process exports its spans over OTLP, and the worker’s spans join its trace', async () => {
    const child = await execa(process.execPath, [CLIENT, TEST_REDIS_URL, fleet.keyPrefix, 'create'], {
      env: {
        ...NO_OTEL,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
        OTEL_SERVICE_NAME: 'traces-test-client',
      },
      timeout: 30_000,
    });
    const { sandboxId, jobId } = JSON.parse(child.stdout) as { sandboxId: string; jobId: string };
    const spans = await spansOfJobFor(sandboxId);
    const exported = otlpSpans(received);
    const root = exported.find((span) => span.name === 'hangar.create');
    expect(root).toBeDefined();
    expect(root?.serviceName).toBe('traces-test-client');
    expect(root?.attributes['hangar.job_id']).toBe(jobId);
    const add = exported.find((span) => span.name === 'add host-t1.create');
    expect(add?.parentSpanId).toBe(root?.spanId);

    const job = spans.find(
      (span) => span.name === 'hangar.job create' && span.attributes['hangar.sandbox_id'] === sandboxId,
    );
    expect(job?.spanContext().traceId).toBe(root?.traceId);
    const processed = spans.find((span) => span.spanContext().spanId === job?.parentSpanContext?.spanId);
    expect(processed?.name).toBe('process host-t1');
    expect(processed?.parentSpanContext?.spanId).toBe(add?.spanId);
    await (await fleet.client.destroy(sandboxId)).result();
  });
});

/** The spans of OTLP/JSON export requests, flattened, with their service's name. */
function otlpSpans(requests: unknown[]) {
  type Attribute = { key: string; value: Record<string, unknown> };
  type Body = {
    resourceSpans?: {
      resource?: { attributes?: Attribute[] };
      scopeSpans?: {
        spans?: {
          name: string;
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          attributes?: Attribute[];
        }[];
      }[];
    }[];
  };
  const flat = (attributes: Attribute[] = []) =>
    Object.fromEntries(attributes.map(({ key, value }) => [key, Object.values(value)[0]]));
  return (requests as Body[]).flatMap((body) =>
    (body.resourceSpans ?? []).flatMap((resource) =>
      (resource.scopeSpans ?? []).flatMap((scope) =>
        (scope.spans ?? []).map((span) => ({
          ...span,
          parentSpanId: span.parentSpanId === '' ? undefined : span.parentSpanId,
          attributes: flat(span.attributes),
          serviceName: flat(resource.resource?.attributes)['service.name'],
        })),
      ),
    ),
  );
}
