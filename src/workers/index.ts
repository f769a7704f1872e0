// What an app needs to embed a host worker: `import { HostWorker, parseWorkerConfig } from 'hangar/worker'`.
// The worker drives VMMs, disks and network namespaces, so it runs as root on the host it serves.
export { parseWorkerConfig, type WorkerConfig, type WorkerConfigInput } from '../config/worker-config.ts';
export { readWorkerConfigFile } from '../config/worker-config-file.ts';
export { resolveWorkerConfig, workerConfigFromEnv } from '../config/worker-config-sources.ts';
export { ErrorCode, HangarError, UnsignedJobError } from '../errors/index.ts';
export { createLogger, type Logger } from '../logging/logger.ts';
export { type MetricsServer, startMetricsServer, WorkerMetrics } from '../metrics/index.ts';
export { type JobKey, type JobKeyInput, parseJobKey } from '../signing/job-key.ts';
export { readJobKeyFile } from '../signing/job-key-file.ts';
export { DEMO_TEMPLATE_ID, writeDemoTemplate } from '../templates/demo-template.ts';
export { TemplateCatalog, type TemplateSpec } from '../templates/template-catalog.ts';
export type { CrashPolicy } from './crash-handler.ts';
export { HostWorker } from './host-worker.ts';
export type { HostNote, JobInfo, JobInstrument, StepInfo } from './job-instruments.ts';
export type { ReconcileReport } from './reconcile.ts';
