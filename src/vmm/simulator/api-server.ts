import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FROM_API, SimApiFailure } from './ch-errors.ts';
import type { SimEndpoint } from './endpoints.ts';
import { EVENT_AFTER, type EventSink } from './events.ts';
import { type FaultPlan, takeFailOnce } from './faults.ts';
import { RawAnswer, routeRequest } from './http-rules.ts';
import { type Latency, simulateLatency } from './latency.ts';
import type { RestoreBody, VmSnapshotBody } from './request-bodies.ts';
import type { SimLog } from './sim-log.ts';
import { snapshotDirOf, writePartialSnapshot } from './snapshot-files.ts';
import type { SimVmm } from './state-machine.ts';
import { restore, runCall, type SimAnswer } from './vmm-calls.ts';

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

/**
 * CH's REST API on a Unix socket. Calls are answered one at a time, in order, as CH's HTTP
 * thread waits for each answer of its single VMM thread: a hung call (hang-at) or a
 * vm.receive-migration waiting for its sender holds up every later one.
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

  /** A restore from --restore, as vm.restore would do it. */
  restore(config: RestoreBody): Promise<void> {
    return restore(this.#callDeps(), config);
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
    const method = req.method ?? 'GET';
    const path = req.url ?? '';
    this.enqueue(() => this.#answer(method, path, text))
      .then((answer) => {
        send(res, answer.status, answer.body);
        if (answer.after === 'exit') res.once('finish', () => this.#deps.exit(0));
      })
      .catch((error: unknown) => {
        const failure =
          error instanceof SimApiFailure ? error : new SimApiFailure(500, [FROM_API, String(error)]);
        this.#deps.log.warn(`${method} ${path} failed ${failure.status}: ${failure.message}`);
        if (failure instanceof RawAnswer) {
          sendText(res, failure.status, failure.text);
          return;
        }
        send(res, failure.status, failure.chain.length === 0 ? undefined : failure.chain);
        // CH's control loop ends after vmm.shutdown even when the VMM refused it.
        if (path === '/api/v1/vmm.shutdown' && failure.chain[0] === FROM_API)
          res.once('finish', () => this.#deps.exit(0));
      });
  }

  async #answer(method: string, path: string, text: string): Promise<SimAnswer> {
    const { faults, log, vmm, latency, events } = this.#deps;
    const { endpoint, body } = routeRequest(method, path, text);
    log.info(`API ${method} ${endpoint}${text === '' ? '' : ` ${text}`}`);
    if (faults.hangAt.has(endpoint)) {
      log.warn(`fault hang-at=${endpoint}: never answering`);
      return new Promise<SimAnswer>(() => {});
    }
    if (faults.exitAt.has(endpoint)) await this.#crash(endpoint, body);
    if (takeFailOnce(faults, endpoint)) {
      throw new SimApiFailure(500, [FROM_API, `Simulated transient failure (fail-once-at=${endpoint})`]);
    }
    if (endpoint !== 'vm.restore') await simulateLatency(latency, endpoint, vmm.memoryBytes());
    const answer = await runCall(this.#callDeps(), endpoint, body);
    const event = EVENT_AFTER[endpoint];
    if (event !== undefined) events('vm', event);
    if (endpoint === 'vmm.shutdown') events('vmm', 'shutdown');
    return answer;
  }

  #callDeps() {
    const { vmm, latency, log, exit } = this.#deps;
    return { vmm, latency, log, exit, enqueue: <T>(task: () => Promise<T>) => this.enqueue(task) };
  }

  // exit-at: die in the middle of the call; a snapshot leaves what a real crash would.
  async #crash(endpoint: SimEndpoint, body: unknown): Promise<never> {
    const { vmm, log } = this.#deps;
    if (endpoint === 'vm.snapshot') {
      try {
        const source = vmm.snapshotSource();
        const dir = await snapshotDirOf((body as VmSnapshotBody).destination_url);
        await writePartialSnapshot(dir, source.config, source.state);
      } catch {
        // preconditions failed: CH would not have started writing either
      }
    }
    log.error(`fault exit-at=${endpoint}: exiting with code 1 mid-call`);
    process.exit(1);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// CH names itself and calls every answer JSON, bodies or not (http/mod.rs handle_http_request).
const HEADERS = { server: 'Cloud Hypervisor API', 'content-type': 'application/json' };

function send(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, body === undefined ? '' : JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.destroyed) return;
  res.writeHead(status, { ...HEADERS, 'content-length': Buffer.byteLength(text) }).end(text);
}
