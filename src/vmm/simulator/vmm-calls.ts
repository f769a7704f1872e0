import type { DiskConfig, NetConfig, VmConfig } from '../cloud-hypervisor/schemas/index.ts';
import { refused } from './ch-errors.ts';
import type { SimEndpoint } from './endpoints.ts';
import { type Latency, simulateLatency } from './latency.ts';
import {
  checkReceiveRequest,
  checkSendRequest,
  listenForMigration,
  type MigrationAddress,
  receiveVm,
  sendVm,
} from './migration.ts';
import type {
  ReceiveMigrationBody,
  RestoreBody,
  SendMigrationBody,
  VmResizeBody,
  VmResizeZoneBody,
  VmSnapshotBody,
} from './request-bodies.ts';
import type { SimLog } from './sim-log.ts';
import { readSnapshot, snapshotDirOf, writeSnapshot } from './snapshot-files.ts';
import type { SimAfter, SimMigratingVm, SimVmm } from './state-machine.ts';

/** A successful answer: 204, or 200 with a body (vmm.shutdown's 200 has none); then go on or exit. */
export interface SimAnswer {
  status: 200 | 204;
  body?: unknown;
  after?: SimAfter;
}

/** What the calls work on. */
export interface SimCallDeps {
  vmm: SimVmm;
  latency: Latency;
  log: SimLog;
  /** Runs a task on the VMM's single thread, after the calls already queued. */
  enqueue<T>(task: () => Promise<T>): Promise<T>;
  /** Ends the process (socket removed) with this code. */
  exit(code: number): void;
}

const NO_CONTENT: SimAnswer = { status: 204 };
const SEND_FAILED = 'Failed to send migratable component snapshot';
const RECEIVE_FAILED = 'Failed to receive migratable component snapshot';

/** What each endpoint does to the VMM once CH's HTTP layer has let the request through. */
export async function runCall(deps: SimCallDeps, endpoint: SimEndpoint, body: unknown): Promise<SimAnswer> {
  const { vmm } = deps;
  switch (endpoint) {
    case 'vmm.ping':
      return { status: 200, body: pingResponse() };
    case 'vmm.shutdown':
      // The server exits after answering this, refused or not (api/mod.rs VmmShutdown).
      vmm.delete('vmm.shutdown');
      return { status: 200, after: 'exit' };
    case 'vm.info':
      return { status: 200, body: vmm.info() };
    case 'vm.counters':
      return { status: 200, body: vmm.counters() };
    case 'vm.create':
      vmm.create(body as VmConfig);
      return NO_CONTENT;
    case 'vm.boot':
      vmm.boot();
      return NO_CONTENT;
    case 'vm.pause':
      vmm.pause();
      return NO_CONTENT;
    case 'vm.resume':
      return { status: 204, after: vmm.resume() };
    case 'vm.shutdown':
      vmm.shutdown();
      return NO_CONTENT;
    case 'vm.reboot':
      vmm.reboot();
      return NO_CONTENT;
    case 'vm.delete':
      vmm.delete();
      return NO_CONTENT;
    case 'vm.power-button':
      return { status: 204, after: vmm.powerButton() };
    case 'vm.resize':
      vmm.resize(body as VmResizeBody);
      return NO_CONTENT;
    case 'vm.resize-zone': {
      const { id, desired_ram } = body as VmResizeZoneBody;
      vmm.resizeZone(id, desired_ram);
      return NO_CONTENT;
    }
    case 'vm.add-net':
      return added(vmm.addDevice('vm.add-net', 'net', body as NetConfig));
    case 'vm.add-disk':
      return added(vmm.addDevice('vm.add-disk', 'disks', body as DiskConfig));
    case 'vm.remove-device':
      vmm.removeDevice((body as { id: string }).id);
      return NO_CONTENT;
    case 'vm.snapshot':
      await snapshot(deps, (body as VmSnapshotBody).destination_url);
      return NO_CONTENT;
    case 'vm.restore':
      await restore(deps, body as RestoreBody);
      return NO_CONTENT;
    case 'vm.send-migration':
      sendMigration(deps, body as SendMigrationBody);
      return NO_CONTENT;
    case 'vm.receive-migration':
      await receiveMigration(deps, body as ReceiveMigrationBody);
      return NO_CONTENT;
  }
}

/** The simulator's vmm.ping answer: CH's shape, and honest about being a stand-in. */
export function pingResponse(): { build_version: string; version: string; pid: number; features: string[] } {
  return {
    build_version: 'v53.0.0-hangar-sim',
    version: '53.0.0',
    pid: process.pid,
    features: ['hangar-sim'],
  };
}

function added(info: { id: string; bdf: string } | undefined): SimAnswer {
  return info === undefined ? NO_CONTENT : { status: 200, body: info };
}

async function snapshot(deps: SimCallDeps, url: string): Promise<void> {
  const source = deps.vmm.snapshotSource();
  const dir = await snapshotDirOf(url);
  await writeSnapshot(dir, source.config, source.state);
  deps.vmm.snapshotTaken(source.state.generation);
}

/** A restore, from vm.restore or --restore: only into a VMM with neither config nor VM. */
export async function restore(deps: SimCallDeps, request: RestoreBody): Promise<void> {
  const { vmm, latency, log } = deps;
  vmm.assertRestorable();
  const snapshot = await readSnapshot(request.source_url, () => {
    if (request.memory_restore_mode === 'OnDemand' && request.prefault === true) {
      throw refused(
        'vm.restore',
        400,
        'Failed to validate config',
        "'prefault' cannot be combined with 'memory_restore_mode=ondemand'",
      );
    }
  });
  await simulateLatency(latency, 'vm.restore', snapshot.config.memory?.size ?? 0);
  const resume = request.resume === true;
  vmm.install(snapshot.config, snapshot.state, resume ? 'Running' : 'Paused');
  log.info(
    `restored generation ${snapshot.state.generation} from ${request.source_url} (${resume ? 'running' : 'paused'})`,
  );
}

// CH checks, then hands the VM to a worker thread and answers at once; the VMM answers
// "migrating" until the worker ends. The end is handled on the VMM thread (the queue).
function sendMigration(deps: SimCallDeps, request: SendMigrationBody): void {
  const { vmm } = deps;
  if (vmm.migrating)
    throw refused('vm.send-migration', 500, SEND_FAILED, 'There is already an ongoing migration');
  if (!vmm.hasVm) throw refused('vm.send-migration', 500, SEND_FAILED, 'VM is not running');
  const address = checkSendRequest(request);
  if (request.local === true && !vmm.sharedMemory)
    throw refused(
      'vm.send-migration',
      500,
      SEND_FAILED,
      'Local migration requires shared memory or hugepages enabled',
    );
  const vm = vmm.startMigration();
  void migrate(deps, address, vm, (request.timeout_s ?? 3600) * 1000);
}

async function migrate(deps: SimCallDeps, address: MigrationAddress, vm: SimMigratingVm, timeoutMs: number) {
  const sent = await sendVm(address, vm, timeoutMs);
  await deps.enqueue(async () => {
    deps.vmm.migrationEnded(sent);
    if (!sent) {
      deps.log.warn('migration failed: the VM stays here');
      return;
    }
    // A finished migration shuts the VM down and exits the VMM (lib.rs check_migration).
    deps.log.info('migration finished: exiting');
    deps.exit(0);
  });
}

// Runs on the VMM thread until the VM has arrived: every later call waits (CH does the same).
async function receiveMigration(deps: SimCallDeps, request: ReceiveMigrationBody): Promise<void> {
  const { vmm } = deps;
  if (vmm.hasVm)
    throw refused(
      'vm.receive-migration',
      500,
      RECEIVE_FAILED,
      "Can't receive a migration when a VM is already created",
    );
  if (vmm.migrating)
    throw refused('vm.receive-migration', 500, RECEIVE_FAILED, 'There is already an ongoing migration');
  const address = checkReceiveRequest(request);
  const server = await listenForMigration(address);
  if (vmm.hasConfig) deps.log.warn('receiving a migration: the existing VM config will be overwritten');
  const vm = await receiveVm(server);
  vmm.install(vm.config, vm.state, vm.vmState);
}
