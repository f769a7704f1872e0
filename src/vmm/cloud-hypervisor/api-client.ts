import { Agent } from 'undici';
import { type ZodType, z } from 'zod';
import { ValidationError } from '../../errors/index.ts';
import { ChApiError, parseErrorChain, VmmUnreachableError } from './api-errors.ts';
import { type ChCallKind, type ChTimeouts, resolveTimeouts } from './api-timeouts.ts';
import { recordChCall } from './request-log.ts';
import {
  DiskConfig,
  dropNulls,
  NetConfig,
  PciDeviceInfo,
  ReceiveMigrationData,
  RestoreConfig,
  SendMigrationData,
  VmConfig,
  VmCounters,
  VmInfo,
  VmmPingResponse,
  VmRemoveDevice,
  VmResize,
  VmResizeZone,
  VmSnapshotConfig,
} from './schemas/index.ts';

export { type ChTimeouts, DEFAULT_CH_TIMEOUTS } from './api-timeouts.ts';

/** A request as it leaves the client (for logging and tests). */
export interface ChRequestEvent {
  method: string;
  endpoint: string;
  body: unknown;
}

/** Options of a ChApiClient. */
export interface ChApiClientOptions {
  /** Overrides of DEFAULT_CH_TIMEOUTS (see resolveTimeouts: `default` alone sets every kind). */
  timeouts?: Partial<ChTimeouts>;
  /** Called with every request before it is sent. */
  onRequest?: (request: ChRequestEvent) => void;
}

/**
 * Cloud Hypervisor's REST API over its Unix socket: one method per endpoint, bodies checked
 * against the spec's schemas before sending and answers parsed after. It reports what CH
 * said (status and error chain) and never guesses the VM's state from a status code.
 */
export class ChApiClient {
  readonly socketPath: string;
  readonly timeouts: Readonly<ChTimeouts>;
  readonly #agent: Agent;
  readonly #onRequest: ((request: ChRequestEvent) => void) | undefined;

  constructor(socketPath: string, options: ChApiClientOptions = {}) {
    this.socketPath = socketPath;
    this.timeouts = resolveTimeouts(options.timeouts);
    this.#onRequest = options.onRequest;
    this.#agent = new Agent({ connect: { socketPath } });
  }

  /** vmm.ping: the VMM's version; answers as soon as the API server is up. */
  async ping(): Promise<VmmPingResponse> {
    return this.#call('GET', 'vmm.ping', 'default', undefined, VmmPingResponse);
  }

  /** vmm.shutdown: deletes the VM and ends the VMM process; CH answers 200 (not 204), then exits, refused or not. */
  async shutdownVmm(): Promise<void> {
    await this.#call('PUT', 'vmm.shutdown', 'shutdown');
  }

  /** vm.create: defines the VM (state Created); nothing runs yet. */
  async create(config: VmConfig): Promise<void> {
    await this.#call('PUT', 'vm.create', 'boot', checked('vm.create', VmConfig, config));
  }

  /** vm.boot: boots a VM from the config (vm.info Created: after vm.create, or after vm.shutdown). */
  async boot(): Promise<void> {
    await this.#call('PUT', 'vm.boot', 'boot');
  }

  /** vm.info: the VM's config and state (Created with a config and no VM); 404 (see isVmNotCreated) with no config. */
  async info(): Promise<VmInfo> {
    return this.#call('GET', 'vm.info', 'default', undefined, VmInfo);
  }

  /** vm.pause: Running -> Paused. */
  async pause(): Promise<void> {
    await this.#call('PUT', 'vm.pause', 'default');
  }

  /** vm.resume: Paused -> Running. */
  async resume(): Promise<void> {
    await this.#call('PUT', 'vm.resume', 'default');
  }

  /** vm.snapshot: writes a Paused VM into an existing directory. */
  async snapshot(config: VmSnapshotConfig): Promise<void> {
    await this.#call('PUT', 'vm.snapshot', 'snapshot', checked('vm.snapshot', VmSnapshotConfig, config));
  }

  /** vm.restore: loads a snapshot into a VMM with no VM and no config (Paused unless resume); CH refuses even a Created one. */
  async restore(config: RestoreConfig): Promise<void> {
    await this.#call('PUT', 'vm.restore', 'restore', checked('vm.restore', RestoreConfig, config));
  }

  /** vm.shutdown: stops and drops the VM; its config stays (vm.info then says Created) and the VMM stays up. */
  async shutdown(): Promise<void> {
    await this.#call('PUT', 'vm.shutdown', 'shutdown');
  }

  /** vm.delete: forgets the VM; the VMM stays up and can create another. */
  async delete(): Promise<void> {
    await this.#call('PUT', 'vm.delete', 'default');
  }

  /** vm.resize: changes vCPUs, RAM or the balloon. */
  async resize(config: VmResize): Promise<void> {
    await this.#call('PUT', 'vm.resize', 'default', checked('vm.resize', VmResize, config));
  }

  /** vm.counters: per-device I/O counters. */
  async counters(): Promise<VmCounters> {
    return this.#call('GET', 'vm.counters', 'default', undefined, VmCounters);
  }

  /** vm.power-button: an ACPI power button press (the guest shuts down). */
  async powerButton(): Promise<void> {
    await this.#call('PUT', 'vm.power-button', 'default');
  }

  /**
   * vm.add-net: hot-plugs a NIC into a booted VM and returns its PCI address; on a VM that
   * is not booted CH only adds it to the config and answers 204 (undefined here).
   */
  async addNet(config: NetConfig): Promise<PciDeviceInfo | undefined> {
    return this.#call(
      'PUT',
      'vm.add-net',
      'default',
      checked('vm.add-net', NetConfig, config),
      PciDeviceInfo,
      true,
    );
  }

  /** vm.remove-device: unplugs a device by id (404 for an unknown id since CH v53). */
  async removeDevice(config: VmRemoveDevice): Promise<void> {
    await this.#call(
      'PUT',
      'vm.remove-device',
      'default',
      checked('vm.remove-device', VmRemoveDevice, config),
    );
  }

  /** vm.add-disk: hot-plugs a disk into a booted VM (its PCI address, 200), or only adds it to the config (204, undefined). */
  async addDisk(config: DiskConfig): Promise<PciDeviceInfo | undefined> {
    const body = checked('vm.add-disk', DiskConfig, config);
    return this.#call('PUT', 'vm.add-disk', 'default', body, PciDeviceInfo, true);
  }

  /** vm.resize-zone: grows a memory zone of a VM (virtio-mem), or sets its size in a config. */
  async resizeZone(config: VmResizeZone): Promise<void> {
    await this.#call('PUT', 'vm.resize-zone', 'default', checked('vm.resize-zone', VmResizeZone, config));
  }

  /**
   * vm.send-migration: CH hands the VM to a worker and answers at once; until the worker ends,
   * calls that touch the VM answer 500 "migrating". A finished migration ends the VMM process.
   */
  async sendMigration(config: SendMigrationData): Promise<void> {
    await this.#call(
      'PUT',
      'vm.send-migration',
      'default',
      checked('vm.send-migration', SendMigrationData, config),
    );
  }

  /** vm.receive-migration: answers only once the VM has arrived; every other call to this VMM waits meanwhile. */
  async receiveMigration(config: ReceiveMigrationData): Promise<void> {
    const body = checked('vm.receive-migration', ReceiveMigrationData, config);
    await this.#call('PUT', 'vm.receive-migration', 'migration', body);
  }

  /** Closes the connections to the socket. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  // The overloads keep "has a response schema" and "returns the parsed body" tied together.
  #call(method: string, endpoint: string, kind: ChCallKind, body?: unknown): Promise<undefined>;
  #call<T>(method: string, endpoint: string, kind: ChCallKind, body: unknown, schema: ZodType<T>): Promise<T>;
  #call<T>(
    method: string,
    endpoint: string,
    kind: ChCallKind,
    body: unknown,
    schema: ZodType<T>,
    allowNoContent: true,
  ): Promise<T | undefined>;
  async #call<T>(
    method: string,
    endpoint: string,
    kind: ChCallKind,
    body?: unknown,
    schema?: ZodType<T>,
    allowNoContent = false,
  ): Promise<T | undefined> {
    this.#onRequest?.({ method, endpoint, body });
    await recordChCall({ kind: 'request', method, endpoint, body });
    const timeoutMs = this.timeouts[kind];
    const signal = AbortSignal.timeout(timeoutMs);
    let status: number;
    let text: string;
    try {
      const response = await this.#agent.request({
        origin: 'http://localhost',
        path: `/api/v1/${endpoint}`,
        method: method as 'GET' | 'PUT',
        headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal,
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      throw new VmmUnreachableError(endpoint, error, { timedOut: signal.aborted, timeoutMs });
    }
    if (status < 200 || status >= 300) throw new ChApiError(endpoint, status, parseErrorChain(text));
    if (schema === undefined || (allowNoContent && status === 204 && text === '')) return undefined;
    return this.#parse(method, endpoint, status, text, schema);
  }

  async #parse<T>(
    method: string,
    endpoint: string,
    status: number,
    text: string,
    schema: ZodType<T>,
  ): Promise<T> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new ChApiError(
        endpoint,
        status,
        [text],
        `CH ${endpoint} answered ${status} with a body that is not JSON: ${detail}`,
      );
    }
    await recordChCall({ kind: 'response', method, endpoint, status, body: json });
    const parsed = schema.safeParse(dropNulls(json));
    if (!parsed.success) {
      const why = z.prettifyError(parsed.error);
      throw new ChApiError(
        endpoint,
        status,
        [],
        `CH ${endpoint} answered ${status} with a malformed body: ${why}`,
      );
    }
    return parsed.data;
  }
}

/** The body, validated; a ValidationError naming the bad field otherwise. */
function checked<T>(endpoint: string, schema: ZodType<T>, body: T): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw ValidationError.fromZod(`${endpoint} request body`, parsed.error);
  return parsed.data;
}
