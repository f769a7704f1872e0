// How an app embeds a host worker (typechecked against the shipped declarations, not run:
// a worker needs root and a host of its own).
import { HostWorker, parseWorkerConfig, TemplateCatalog, workerConfigFromEnv } from 'hangar/worker';

export async function startWorker(templatesFile: string): Promise<HostWorker> {
  const config = parseWorkerConfig({ ...workerConfigFromEnv(), hostId: 'h1', vmm: 'simulator' });
  const worker = await HostWorker.create(config, await TemplateCatalog.fromFile(templatesFile));
  await worker.start();
  return worker;
}
