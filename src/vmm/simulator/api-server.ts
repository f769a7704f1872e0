import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ZodType } from 'zod';
import {
  NetConfig,
  RestoreConfig,
  VmConfig,
  VmRemoveDevice,
  VmResize,
  VmSnapshotConfig,
} from '../cloud-hypervisor/schemas/index.ts';
import { isSimEndpoint, SIM_ENDPOINTS, type SimEndpoint } from './endpoints.ts';
import { EVENT_AFTER, type EventSink } from './events.ts';
import { type FaultPlan, takeFailOnce } from './faults.ts';
import { type Latency, simulateLatency } from './latency.ts';
import type { SimLog } from './sim-log.ts';
import { readSnapshot, snapshotDirOf, writePartialSnapshot, writeSnapshot } from './snapshot-files.ts';
import { SimApiFailure, type SimVmm } from './state-machine.ts';

/** What the API server works on. */
export interface SimApiDeps {
  vmm: SimVmm;
  faults: FaultPlan;
  latency: Latency;
  log: SimLog;
  events: EventSink;
  /** Ends the process in order (vmm.shutdown): socket removed, exit code as given. */
  exit(code: number): void;
}

type Answer = { status: 200; body: unknown } | { status: 204 };

const NO_CONTENT: Answer = { status: 204 };

const BODY_SCHEMAS: Partial<Record<SimEndpoint, { name: string; schema: ZodType }>> = {
  'vm.create': { name: 'VmConfig', schema: VmConfig },
  'vm.snapshot': { name: 'VmSnapshotConfig', schema: VmSnapshotConfig },
  'vm.restore': { name: 'RestoreConfig', schema: RestoreConfig },
  'vm.resize': { name: 'VmResize', schema: VmResize },
  'vm.add-net': { name: 'NetConfig', schema: NetConfig },
  'vm.remove-device': { name: 'VmRemoveDevice', schema: VmRemoveDevice },
};

/**
 * CH's REST API on a Unix socket. Calls are handled one at a time, in order, as CH's single
 * VMM thread does: a hung call (hang-at) holds up every later one.
 */
export class SimApiServer {
  readonly #deps: SimApiDeps;
  readonly #server: Server;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(deps: SimApiDeps) {
    this.#deps = deps;
    this.#server = createServer((req, res) => void this.#serve(req, res));
  }

  /** Starts answering on `socketPath` (which must not exist). */
  listen(socketPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(socketPath, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops accepting connections. */
  close(): void {
    this.#server.close();
    this.#server.closeAllConnections();
  }

  /** Runs `task` after every call already queued (the startup --restore goes first). */
  enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** A restore, from --restore or vm.restore: the VMM must be empty and the snapshot complete. */
  async restore(config: RestoreConfig): Promise<void> {
    const { vmm, latency, log } = this.#deps;
    vmm.assertRestorable();
    const dir = await snapshotDirOf(config.source_url, 'restored');
    const snapshot = await readSnapshot(dir);
    await simulateLatency(latency, 'vm.restore', snapshot.config.memory?.size ?? 0);
    vmm.restore(snapshot.config, snapshot.state, config.resume ?? false);
    log.info(
      `restored generation ${snapshot.state.generation} from ${dir} (${config.resume ? 'running' : 'paused'})`,
    );
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text: string;
    try {
      text = await readBody(req);
    } catch (error) {
      // The caller went away mid-request (a client timeout): nothing to answer.
      this.#deps.log.debug(`request aborted: ${String(error)}`);
      return;
    }
    const endpoint = (req.url ?? '').replace(/^\/api\/v1\//, '').replace(/\?.*$/, '');
    this.enqueue(() => this.#answer(req.method ?? 'GET', endpoint, text))
      .then((answer) => {
        send(res, answer.status, answer.status === 200 ? answer.body : undefined);
        if (endpoint === 'vmm.shutdown') res.once('finish', () => this.#deps.exit(0));
      })
      .catch((error: unknown) => {
        const failure =
          error instanceof SimApiFailure ? error : new SimApiFailure(500, ['Error from API', String(error)]);
        this.#deps.log.warn(`${endpoint} failed ${failure.status}: ${failure.chain.join(': ')}`);
        send(res, failure.status, failure.chain);
      });
  }

  async #answer(method: string, endpoint: string, text: string): Promise<Answer> {
    const { faults, log, vmm, latency, events } = this.#deps;
    if (!isSimEndpoint(endpoint)) throw new SimApiFailure(404, [`Unknown endpoint ${endpoint}`]);
    if (SIM_ENDPOINTS[endpoint] !== method)
      throw new SimApiFailure(400, [`${endpoint} does not accept ${method}`]);
    log.info(`API ${method} ${endpoint}${text === '' ? '' : ` ${text}`}`);
    const body = parseBody(endpoint, text);
    if (faults.hangAt.has(endpoint)) {
      log.warn(`fault hang-at=${endpoint}: never answering`);
      return new Promise<Answer>(() => {});
    }
    if (faults.exitAt.has(endpoint)) await this.#crash(endpoint, body);
    if (takeFailOnce(faults, endpoint)) {
      throw new SimApiFailure(500, [
        'Error from API',
        `Simulated transient failure (fail-once-at=${endpoint})`,
      ]);
    }
    if (endpoint !== 'vm.restore') await simulateLatency(latency, endpoint, vmm.memoryBytes());
    const answer = await this.#dispatch(endpoint, body);
    const event = EVENT_AFTER[endpoint];
    if (event !== undefined) events('vm', event);
    return answer;
  }

  async #dispatch(endpoint: SimEndpoint, body: unknown): Promise<Answer> {
    const { vmm } = this.#deps;
    switch (endpoint) {
      case 'vmm.ping':
        return { status: 200, body: pingResponse() };
      case 'vmm.shutdown':
        this.#deps.events('vmm', 'shutdown');
        return NO_CONTENT;
      case 'vm.info':
        return { status: 200, body: vmm.info() };
      case 'vm.counters':
        return { status: 200, body: vmm.counters() };
      case 'vm.snapshot': {
        const source = vmm.snapshotSource();
        const dir = await snapshotDirOf((body as VmSnapshotConfig).destination_url, 'snapshotted');
        await writeSnapshot(dir, source.config, source.state);
        vmm.snapshotTaken(source.state.generation);
        return NO_CONTENT;
      }
      case 'vm.restore':
        await this.restore(body as RestoreConfig);
        return NO_CONTENT;
      case 'vm.add-net': {
        const info = vmm.addNet(body as NetConfig);
        return info === undefined ? NO_CONTENT : { status: 200, body: info };
      }
      case 'vm.remove-device':
        vmm.removeDevice((body as VmRemoveDevice).id);
        return NO_CONTENT;
      case 'vm.resize':
        vmm.resize(body as VmResize);
        return NO_CONTENT;
      case 'vm.create':
        vmm.create(body as VmConfig);
        return NO_CONTENT;
      default:
        this.#transition(endpoint);
        return NO_CONTENT;
    }
  }

  #transition(endpoint: SimEndpoint): void {
    const { vmm } = this.#deps;
    const actions: Partial<Record<SimEndpoint, () => void>> = {
      'vm.boot': () => vmm.boot(),
      'vm.pause': () => vmm.pause(),
      'vm.resume': () => vmm.resume(),
      'vm.shutdown': () => vmm.shutdown(),
      'vm.reboot': () => vmm.reboot(),
      'vm.delete': () => vmm.delete(),
      'vm.power-button': () => vmm.powerButton(),
    };
    actions[endpoint]?.();
  }

  // exit-at: die in the middle of the call; a snapshot leaves what a real crash would.
  async #crash(endpoint: SimEndpoint, body: unknown): Promise<never> {
    const { vmm, log } = this.#deps;
    if (endpoint === 'vm.snapshot') {
      try {
        const source = vmm.snapshotSource();
        const dir = await snapshotDirOf((body as VmSnapshotConfig).destination_url, 'snapshotted');
        await writePartialSnapshot(dir, source.config, source.state);
      } catch {
        // preconditions failed: CH would not have started writing either
      }
    }
    log.error(`fault exit-at=${endpoint}: exiting with code 1 mid-call`);
    process.exit(1);
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

function parseBody(endpoint: SimEndpoint, text: string): unknown {
  const spec = BODY_SCHEMAS[endpoint];
  if (spec === undefined) return undefined;
  if (text.trim() === '')
    throw new SimApiFailure(400, ['Error from API', `${endpoint} needs a ${spec.name} body`]);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SimApiFailure(400, ['Error from API', `Cannot deserialize JSON: ${(error as Error).message}`]);
  }
  const parsed = spec.schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new SimApiFailure(400, ['Error from API', `Invalid ${spec.name}`, ...issues]);
  }
  return parsed.data;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res
    .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    .end(text);
}
