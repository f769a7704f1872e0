import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { z } from 'zod';
import type { WorkerConfigInput } from '../../config/worker-config.ts';
import { readWorkerConfigFile } from '../../config/worker-config-file.ts';
import { defined, resolveWorkerConfig } from '../../config/worker-config-sources.ts';
import { createLogger } from '../../logging/logger.ts';
import { hostQueueName } from '../../queues/names.ts';
import { redact } from '../../redis/redact.ts';
import { resolveJobKey } from '../../signing/job-key-file.ts';
import { DEMO_TEMPLATE_ID, writeDemoTemplate } from '../../templates/demo-template.ts';
import { TemplateCatalog } from '../../templates/template-catalog.ts';
import { addFleetOptions, FleetFlags, intFlag, parseFlags, redisTlsFromFlags } from './cli-options.ts';
import { addNetworkOptions, networkFromFlags } from './network-flags.ts';
import { exitSoon, untilShutdownSignal } from './shutdown-signal.ts';

const WorkerFlags = FleetFlags.extend({
  config: z.string().optional(),
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
  metricsHost: z.string().min(1).optional(),
  transferPort: intFlag(0, 65_535).optional(),
  transferListen: z.string().min(1).optional(),
  transferUrl: z.string().optional(),
});

const PRECEDENCE = `
Settings come from, highest first: flags (and the variables a flag names, such as REDIS_URL),
the HANGAR_* environment, the --config file, then the defaults. The config file (YAML or
JSON) takes the worker config's fields: hostId, redisUrl, redisTls {ca, cert, key}, keyPrefix,
jobKeyFile, stateDir, concurrency, vmm, disk, poolSize, pool, capacity {vcpus, memoryMib},
network {prefix, vethRange, hostRange}, templatesFile, ... (deploy/worker.example.yaml
documents each). The job key: --job-key-file, else HANGAR_JOB_KEY (hex or base64, at least 32
bytes), else the config file's jobKeyFile; a key file must not be readable by group or others.
Without a key the worker runs unsigned jobs, and says so.`;

/** `hangar worker`: this host's worker, until SIGTERM or Ctrl-C (which leave VMs running). */
export function registerWorker(program: Command): void {
  const command = program
    .command('worker')
    .description('run this host’s worker: consume its queue and drive the sandboxes (needs root)')
    .option('--config <file>', 'worker config file, YAML or JSON (flags and environment win over it)')
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
      new Option(
        '--metrics-host <address>',
        'address the metrics endpoint listens on (default 127.0.0.1)',
      ).env('HANGAR_METRICS_HOST'),
    )
    .option(
      '--transfer-port <port>',
      'serve this host’s snapshots to other hosts (restores elsewhere, export/import) on this port; needs the job key (env HANGAR_TRANSFER_PORT; default: no transfer server)',
    )
    .option(
      '--transfer-listen <address>',
      'address the transfer server listens on (env HANGAR_TRANSFER_LISTEN; default 0.0.0.0)',
    )
    .option(
      '--transfer-url <url>',
      'base URL other hosts reach the transfer server at (env HANGAR_TRANSFER_URL; default http://<hostname>:<port>)',
    )
    .addHelpText('after', PRECEDENCE);
  addNetworkOptions(addFleetOptions(command)).action(async (raw: Record<string, unknown>) => {
    // Only what was typed or set through a flag's own variable beats the config file; a
    // flag's default must not (the file's redisUrl wins over --redis's default).
    const given = Object.fromEntries(
      Object.entries(raw).filter(([key]) => {
        const source = command.getOptionValueSource(key);
        return source === 'cli' || source === 'env';
      }),
    );
    const flags = parseFlags('worker', WorkerFlags.partial(), given);
    const file = flags.config === undefined ? undefined : await readWorkerConfigFile(flags.config);
    const config = resolveWorkerConfig({
      ...(file === undefined ? {} : { file }),
      flags: configFlags(flags),
    });
    const jobKey = await resolveJobKey({
      ...(flags.jobKeyFile === undefined ? {} : { flagFile: flags.jobKeyFile }),
      ...(config.jobKeyFile === undefined ? {} : { configFile: config.jobKeyFile }),
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
      ...(jobKey === undefined ? {} : { jobKey }),
    });
    console.log(`VMM: ${worker.ctx.backend.info.description}`);
    // Served before the startup reconcile, so a scrape sees a host that is still starting.
    metrics?.observe(worker.ctx);
    const server =
      metricsModule === undefined || metrics === undefined
        ? undefined
        : await metricsModule.startMetricsServer({
            registry: metrics.registry,
            host: flags.metricsHost ?? '127.0.0.1',
            port: flags.metricsPort!,
            logger,
          });
    if (server !== undefined) console.log(`metrics: ${server.url}`);
    await worker.start().catch(async (error: unknown) => {
      await server?.close();
      throw error;
    });
    console.log(
      `worker ${config.hostId} consuming ${hostQueueName(config.hostId)} on ${redact(config.redisUrl)} (concurrency ${config.concurrency}, prefix ${config.keyPrefix}, ${jobKey === undefined ? 'unsigned jobs accepted' : `jobs signed with key ${jobKey.keyId}`})`,
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

/** The worker config fields the given flags set. */
function configFlags(flags: Partial<z.infer<typeof WorkerFlags>>): Partial<WorkerConfigInput> {
  const network = networkFromFlags(flags);
  const capacity = {
    ...(flags.vcpus === undefined ? {} : { vcpus: flags.vcpus }),
    ...(flags.memoryMib === undefined ? {} : { memoryMib: flags.memoryMib }),
  };
  const redisTls = redisTlsFromFlags(flags);
  const transfer = defined({
    port: flags.transferPort,
    listen: flags.transferListen,
    advertiseUrl: flags.transferUrl,
  });
  const fields: Record<string, unknown> = {
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
    ...(Object.keys(capacity).length > 0 ? { capacity } : {}),
    ...(Object.keys(network).length > 0 ? { network } : {}),
    ...(redisTls === undefined ? {} : { redisTls }),
    transfer,
  };
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined),
  ) as Partial<WorkerConfigInput>;
}
