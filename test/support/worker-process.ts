// A host worker in its own process, so a test can SIGKILL it mid-job and start it again.
// argv[2]: the worker config as JSON; argv[3]: the templates directory; argv[4]: 'guest' to
// serve the real test guest (QEMU) instead of the placeholder template.
import { parseWorkerConfig } from '../../src/config/worker-config.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { TemplateCatalog } from '../../src/templates/template-catalog.ts';
import { testGuestTemplate } from '../../src/templates/test-guest-template.ts';
import { HostWorker } from '../../src/workers/host-worker.ts';
import { writeTestTemplate } from './fleet.ts';

const config = parseWorkerConfig(JSON.parse(process.argv[2] ?? '{}'));
const templates =
  process.argv[4] === 'guest'
    ? new TemplateCatalog([await testGuestTemplate(process.argv[3] ?? '/tmp')])
    : await writeTestTemplate(process.argv[3] ?? '/tmp');
const worker = await HostWorker.create(config, templates, {
  logger: createLogger({ level: process.env.HANGAR_TEST_LOG ?? 'silent' }),
});
await worker.start();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void worker.stop().then(() => process.exit(0));
});
