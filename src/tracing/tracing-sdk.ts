import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  detectResources,
  resourceAttributesEnvDetector,
  resourceFromAttributes,
  serviceNameEnvDetector,
} from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

/** The SDK hangar started for this process. */
export interface TracingSdk {
  /** Exports what the batch processors hold. */
  flush(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK for this process: a tracer provider that batches spans to
 * each exporter (OTLP over HTTP, configured by OTEL_EXPORTER_OTLP_*, which the exporter
 * reads itself; or the console), AsyncLocalStorage for the active span and W3C trace
 * context for propagation, all registered globally. Loaded only when tracing is on.
 */
export function registerTracingSdk(service: string, exporters: readonly ('otlp' | 'console')[]): TracingSdk {
  const spanProcessors: SpanProcessor[] = exporters.map(
    (name) =>
      new BatchSpanProcessor({
        exporter: name === 'otlp' ? new OTLPTraceExporter() : new ConsoleSpanExporter(),
      }),
  );
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over hangar's own name.
  const resource = resourceFromAttributes({ 'service.name': service }).merge(
    detectResources({ detectors: [resourceAttributesEnvDetector, serviceNameEnvDetector] }),
  );
  const provider = new TracerProvider({ resource, spanProcessors });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return { flush: () => provider.forceFlush() };
}
