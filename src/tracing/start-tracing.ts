import type { Telemetry } from 'bullmq';
import { type TracingSettings, tracingSettings } from './tracing-env.ts';

/** Attribute values hangar puts on its spans. */
export type SpanAttributes = Record<string, string | number | boolean>;

/** What code inside a span may add to it. */
export interface OpenSpan {
  setAttributes(attributes: SpanAttributes): void;
}

/** Tracing as hangar's producer and worker use it, once it is on. */
export interface Tracing {
  /** BullMQ's telemetry for Queues, Workers and FlowProducers: carries the trace through each job. */
  telemetry: Telemetry;
  /**
   * Runs `run` in a new span, a child of the active one, and ends it with run's outcome
   * (an error is recorded on it and passed on unchanged).
   */
  span<T>(name: string, attributes: SpanAttributes, run: (span: OpenSpan) => Promise<T>): Promise<T>;
  /** Exports the spans still buffered (a client or worker closing). */
  flush(): Promise<void>;
}

/**
 * Tracing for this process when the OTEL_* environment turns it on, else undefined (and no
 * OpenTelemetry module is loaded: the producer stays light). `service` names this process
 * in the traces unless OTEL_SERVICE_NAME does. When the process already registered a tracer
 * provider (an app's own SDK), hangar's spans go there; otherwise hangar starts the SDK once
 * per process, exporting as OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_* say.
 */
export async function startTracing(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Tracing | undefined> {
  const settings: TracingSettings = tracingSettings(env);
  if (!settings.enabled) return undefined;
  // Loaded only now: @opentelemetry/*, bullmq-otel and the SDK stay out of an untraced process.
  const { openTracing } = await import('./open-tracing.ts');
  return openTracing(service, settings.exporters);
}
