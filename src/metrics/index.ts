// Prometheus metrics of a host worker, and the small HTTP endpoint that serves them.
export { type HostGaugeSource, registerHostGauges } from './host-gauges.ts';
export { METRICS_PATH, type MetricsServer, startMetricsServer } from './metrics-server.ts';
export { type AttemptOutcome, WorkerMetrics } from './worker-metrics.ts';
