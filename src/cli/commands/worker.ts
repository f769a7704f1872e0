import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { z } from 'zod';
import { parseWorkerConfig, workerConfigFromEnv } from '../../config/worker-config.ts';
import { createLogger } from '../../logging/logger.ts';
import { hostQueueName } from '../../queues/names.ts';
import { DEMO_TEMPLATE_ID, writeDemoTemplate } from '../../templates/demo-template.ts';
import { TemplateCatalog } from '../../templates/template-catalog.ts';
import { addFleetOptions, FleetFlags, intFlag, parseFlags } from './cli-options.ts';
import { addNetworkOptions, networkFromFlags } from './network-flags.ts';
import { exitSoon, untilShutdownSignal } from './shutdown-signal.ts';

const WorkerFlags = FleetFlags.extend({
  hostId: z.string().optional(),
  stateDir: z.string().optional(),
  concurrency: intFlag(1, 256).optional(),
  vmm: z.string().optional(),
  disk: z.string().optional(),
  poolSize: intFlag(0, 256).optional(),
  templates: z.string().optional(),
  vcpus: intFlag(1, 100_000).optional(),
  memoryMib: intFlag(128, 1 << 30).optional(),
  diskReserveMib: intFlag(0, 1 << 30).optional(),
  networkPrefix: z.string().optional(),
  vethRange: z.string().optional(),
  hostRange: z.string().optional(),
  metricsPort: intFlag(0, 65_535).optional(),
  metricsHost: z.string().min(1).default('127.0.0.1'),
});

/** `hangar worker`: this host's worker, until SIGTERM or Ctrl-C (which leave VMs running). */
export function registerWorker(program: Command): void {
  const command = program
    .command('worker')
    .description('run this host’s worker: consume its queue and drive the sandboxes (needs root)')
    .option('--host-id <id>', 'this host’s id (env HANGAR_HOST_ID; default: the hostname)')
    .option('--state-dir <dir>', 'ledger, disks, snapshots (env HANGAR_STATE_DIR; default /var/lib/hangar)')
    .option('--concurrency <n>', 'jobs run at once (env HANGAR_CONCURRENCY; default 8)')
    .option(
      '--vmm <kind>',
      'auto (cloud-hypervisor, else qemu, else simulator) | ch-or-simulator | cloud-hypervisor | qemu | simulator | in-process-stand-in (a stand-in with no VM: state in the worker’s memory, lost on restart) (env HANGAR_VMM)',
    )
    .option('--disk <kind>', 'auto | file | device-mapper (env HANGAR_DISK; default auto)')
    .option('--pool-size <n>', 'network slots kept ready (env HANGAR_POOL_SIZE; default 4)')
    .option('--vcpus <n>', 'vCPUs this host offers to sandboxes (env HANGAR_VCPUS; default 64)')
    .option(
      '--memory-mib <n>',
      'memory (MiB) this host offers to sandboxes (env HANGAR_MEMORY_MIB; default 131072)',
    )
    .option(
      '--disk-reserve-mib <n>',
      'free space (MiB) kept in the state dir: creates, restores and snapshots that would eat into it are refused (env HANGAR_DISK_RESERVE_MIB; default 1024)',
    )
    .option('--templates <file>', 'YAML file of templates (env HANGAR_TEMPLATES; default: the demo template)')
    .addOption(
      new Option(
        '--metrics-port <port>',
        'serve Prometheus metrics at http://<metrics-host>:<port>/metrics (0: a free port; default: no metrics)',
      ).env('HANGAR_METRICS_PORT'),
    )
    .addOption(
      new Option('--metrics-host <address>', 'address the metrics endpoint listens on')
        .env('HANGAR_METRICS_HOST')
        .default('127.0.0.1'),
    );
  addNetworkOptions(addFleetOptions(command)).action(async (raw: Record<string, unknown>) => {
    const flags = parseFlags('worker', WorkerFlags, raw);
    const given = {
      hostId: flags.hostId,
      redisUrl: flags.redis,
      keyPrefix: flags.prefix,
      stateDir: flags.stateDir,
      concurrency: flags.concurrency,
      vmm: flags.vmm,
      disk: flags.disk,
      poolSize: flags.poolSize,
      templatesFile: flags.templates,
      diskReserveMib: flags.diskReserveMib,
    };
    const env = workerConfigFromEnv();
    const vcpus = flags.vcpus ?? env.capacity?.vcpus;
    const memoryMib = flags.memoryMib ?? env.capacity?.memoryMib;
    const capacity =
      vcpus === undefined && memoryMib === undefined
        ? {}
        : { capacity: { vcpus: vcpus ?? 64, memoryMib: memoryMib ?? 131_072 } };
    const network = networkFromFlags(flags);
    const config = parseWorkerConfig({
      ...env,
      ...capacity,
      ...Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)),
      ...(Object.keys(network).length > 0 ? { network } : {}),
    });
    const logger = createLogger({ destination: 2 });
    let templates: TemplateCatalog;
    if (config.templatesFile !== undefined) {
      templates = await TemplateCatalog.fromFile(config.templatesFile);
      console.log(`templates: ${templates.ids().join(', ')} (from ${config.templatesFile})`);
    } else {
      templates = await writeDemoTemplate(join(config.stateDir, 'demo-template'));
      console.log(
        `templates: none given (--templates or HANGAR_TEMPLATES); serving the demo template '${DEMO_TEMPLATE_ID}' (placeholder kernel: fine for the simulator only)`,
      );
    }
    // Loaded here, not at startup, so other commands and `--help` stay quick.
    const { HostWorker } = await import('../../workers/host-worker.ts');
    // Only with --metrics-port: prom-client stays unloaded otherwise.
    const metricsModule =
      flags.metricsPort === undefined ? undefined : await import('../../metrics/index.ts');
    const metrics = metricsModule === undefined ? undefined : new metricsModule.WorkerMetrics();
    const worker = await HostWorker.create(config, templates, {
      logger,
      instruments: metrics === undefined ? [] : [metrics],
    });
    console.log(`VMM: ${worker.ctx.backend.info.description}`);
    // Served before the startup reconcile, so a scrape sees a host that is still starting.
    metrics?.observe(worker.ctx);
    const server =
      metricsModule === undefined || metrics === undefined
        ? undefined
        : await metricsModule.startMetricsServer({
            registry: metrics.registry,
            host: flags.metricsHost,
            port: flags.metricsPort!,
            logger,
          });
    if (server !== undefined) console.log(`metrics: ${server.url}`);
    await worker.start().catch(async (error: unknown) => {
      await server?.close();
      throw error;
    });
    console.log(
      `worker ${config.hostId} consuming ${hostQueueName(config.hostId)} (concurrency ${config.concurrency}, prefix ${config.keyPrefix})`,
    );
    console.log('SIGTERM or Ctrl-C: stop taking jobs, finish the ones running, leave VMs running');
    const signal = await untilShutdownSignal();
    console.log(`${signal}: stopping (finishing jobs in flight)...`);
    await worker.stop();
    await server?.close();
    console.log('worker stopped; VMs left running');
    exitSoon(0);
  });
}
