import { type ProxyTracerProvider, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BullMQOtel } from 'bullmq-otel';
import { quietTelemetry } from './quiet-telemetry.ts';
import type { Tracing } from './start-tracing.ts';
import type { TracingSdk } from './tracing-sdk.ts';

/** The name hangar's tracer (and BullMQ's, through bullmq-otel) carries. */
export const TRACER_NAME = 'hangar';

// One SDK per process, however many clients and workers it runs.
let sdk: Promise<TracingSdk | undefined> | undefined;

/**
 * Tracing on the process's tracer provider: the one already registered (an app's own SDK),
 * else hangar's SDK, started on first use. Loaded by startTracing only when tracing is on.
 */
export async function openTracing(
  service: string,
  exporters: readonly ('otlp' | 'console')[],
): Promise<Tracing> {
  sdk ??= hasTracerProvider()
    ? Promise.resolve(undefined)
    : import('./tracing-sdk.ts').then(({ registerTracingSdk }) => registerTracingSdk(service, exporters));
  const started = await sdk;
  const tracer = trace.getTracer(TRACER_NAME);
  return {
    telemetry: quietTelemetry(new BullMQOtel({ tracerName: TRACER_NAME })),
    span: (name, attributes, run) =>
      tracer.startActiveSpan(name, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
        try {
          return await run(span);
        } catch (error) {
          span.recordException(error instanceof Error ? error : String(error));
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: error instanceof Error ? error.message : '',
          });
          throw error;
        } finally {
          span.end();
        }
      }),
    flush: async () => {
      await started?.flush();
    },
  };
}

// The API hands out a proxy provider whose delegate is the registered SDK's provider, if
// any. Duck-typed: an app may have registered through the API's CommonJS build.
function hasTracerProvider(): boolean {
  const provider = trace.getTracerProvider() as Partial<ProxyTracerProvider>;
  if (typeof provider.getDelegateTracer !== 'function') return true;
  return provider.getDelegateTracer(TRACER_NAME) !== undefined;
}
