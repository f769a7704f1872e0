import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { tracingSettings } from '../../src/tracing/tracing-env.ts';

describe('tracing is off unless the OTEL_* environment configures it', () => {
  it('is off with nothing set, with empty variables, with `none`, and with OTEL_SDK_DISABLED=true', () => {
    expect(tracingSettings({})).toEqual({ enabled: false });
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toEqual({
      enabled: false,
    });
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'none' })).toEqual({ enabled: false });
    expect(
      tracingSettings({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }),
    ).toEqual({ enabled: false });
    // Other OTEL_* variables (the service's name, say) configure nothing by themselves.
    expect(tracingSettings({ OTEL_SERVICE_NAME: 'api' })).toEqual({ enabled: false });
  });

  it('is on with an exporter, an OTLP endpoint, or OTEL_SDK_DISABLED=false', () => {
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' })).toEqual({ enabled: true, exporters: ['otlp'] });
    expect(tracingSettings({ OTEL_TRACES_EXPORTER: 'console, OTLP' })).toEqual({
      enabled: true,
      exporters: ['console', 'otlp'],
    });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({
      enabled: true,
      exporters: ['otlp'],
    });
    expect(
      tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }),
    ).toEqual({
      enabled: true,
      exporters: ['otlp'],
    });
    expect(tracingSettings({ OTEL_SDK_DISABLED: 'false' })).toEqual({ enabled: true, exporters: ['otlp'] });
  });

  it('names the variable that is wrong', () => {
    expect(() => tracingSettings({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(
      expect.objectContaining({
        code: ErrorCode.Validation,
        message: expect.stringContaining('OTEL_TRACES_EXPORTER'),
      }),
    );
    expect(() => tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
    expect(() =>
      tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    ).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL: hangar exports OTLP as http\/json only/);
  });
});
