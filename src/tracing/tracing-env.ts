import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';

// An empty variable counts as unset, as the OpenTelemetry spec asks.
const unsetIfEmpty = (value: unknown) => (value === '' ? undefined : value);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfEmpty, schema.optional());

const HttpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

/** The standard OTEL_* variables hangar reads to decide whether, and where, to export traces. */
const TracingEnv = z.object({
  OTEL_SDK_DISABLED: optional(z.stringbool()),
  OTEL_TRACES_EXPORTER: optional(
    z
      .string()
      .transform((list) =>
        list
          .split(',')
          .map((name) => name.trim().toLowerCase())
          .filter((name) => name !== ''),
      )
      .pipe(z.array(z.enum(['otlp', 'console', 'none'], 'must be otlp, console or none'))),
  ),
  OTEL_EXPORTER_OTLP_ENDPOINT: optional(HttpUrl),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optional(HttpUrl),
  // Only the OTLP/HTTP JSON exporter ships with hangar; say so rather than send what a
  // collector expecting protobuf or gRPC cannot read.
  OTEL_EXPORTER_OTLP_PROTOCOL: optional(z.literal('http/json', 'hangar exports OTLP as http/json only')),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: optional(
    z.literal('http/json', 'hangar exports OTLP as http/json only'),
  ),
});

/** What the environment asks of tracing: off, or on with these exporters. */
export type TracingSettings = { enabled: false } | { enabled: true; exporters: ('otlp' | 'console')[] };

/**
 * Reads tracing's settings from the standard OTEL_* variables. Tracing is off unless they
 * configure it: an exporter named in OTEL_TRACES_EXPORTER (other than `none`), an OTLP
 * endpoint, or OTEL_SDK_DISABLED=false said outright; OTEL_SDK_DISABLED=true turns it off
 * whatever else is set. Throws ValidationError naming the variable that is wrong.
 */
export function tracingSettings(env: NodeJS.ProcessEnv = process.env): TracingSettings {
  const parsed = TracingEnv.safeParse(env);
  if (!parsed.success) throw ValidationError.fromZod('OpenTelemetry environment', parsed.error);
  const vars = parsed.data;
  if (vars.OTEL_SDK_DISABLED === true) return { enabled: false };
  const named = vars.OTEL_TRACES_EXPORTER?.filter((name) => name !== 'none');
  if (vars.OTEL_TRACES_EXPORTER !== undefined && named?.length === 0) return { enabled: false };
  const configured =
    named !== undefined ||
    vars.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined ||
    vars.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined ||
    vars.OTEL_SDK_DISABLED === false;
  if (!configured) return { enabled: false };
  return { enabled: true, exporters: (named ?? ['otlp']) as ('otlp' | 'console')[] };
}
