import { type Context, context, trace } from '@opentelemetry/api';
import { type Span, SpanKind, type SpanOptions, type Telemetry } from 'bullmq';

// Stands in for a span nobody wants: it records nothing and leaves the context as it was.
const DROPPED: Span<Context> = {
  setSpanOnContext: (ctx) => ctx,
  setAttribute: () => undefined,
  setAttributes: () => undefined,
  addEvent: () => undefined,
  recordException: () => undefined,
  end: () => undefined,
};

/**
 * BullMQ's telemetry without its background noise: a worker traces every poll for the next
 * job, every lock extension and every stalled-job check as a trace of its own. Internal
 * spans with no parent are dropped; adds (producer), processing (consumer) and whatever a
 * job's own trace does are kept.
 */
export function quietTelemetry(inner: Telemetry<Context>): Telemetry<Context> {
  return {
    ...inner,
    tracer: {
      startSpan(name: string, options?: SpanOptions, ctx?: Context): Span<Context> {
        const internal = options === undefined || options.kind === SpanKind.INTERNAL;
        if (internal && trace.getSpan(ctx ?? context.active()) === undefined) return DROPPED;
        return inner.tracer.startSpan(name, options, ctx);
      },
    },
  };
}
