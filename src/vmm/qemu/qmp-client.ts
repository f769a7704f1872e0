import { createConnection, type Socket } from 'node:net';
import type { ZodType } from 'zod';
import { TimeoutError, ValidationError } from '../../errors/index.ts';
import { type Logger, silentLogger } from '../../logging/logger.ts';
import { QmpError, QmpUnreachableError } from './qmp-errors.ts';
import { GuidInfo, MigrationInfo, QmpEvent, QmpGreeting, QmpReply, StatusInfo } from './qmp-schemas.ts';

/** Options of a QMP connection; every deadline in ms. */
export interface QmpClientOptions {
  /** Connect, greeting and qmp_capabilities together; default 5 s. */
  connectTimeoutMs?: number;
  /** Default deadline of each execute(); default 5 s. */
  timeoutMs?: number;
  logger?: Logger;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One QMP session over QEMU's Unix socket: greeting, capabilities negotiation, then
 * commands matched to their replies by id, and events handed to listeners. QEMU serves one
 * QMP client at a time, so callers keep sessions short (connect, a few commands, close).
 */
export class QmpClient {
  readonly socketPath: string;
  readonly #socket: Socket;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(event: QmpEvent) => void>();
  #greeting: QmpGreeting | undefined;
  #onGreeting: ((greeting: QmpGreeting) => void) | undefined;
  #buffer = '';
  #nextId = 1;
  #closed = false;
  readonly #closedPromise: Promise<void>;

  private constructor(socketPath: string, socket: Socket, options: QmpClientOptions) {
    this.socketPath = socketPath;
    this.#socket = socket;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#log = (options.logger ?? silentLogger).child({ qmp: socketPath });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#receive(chunk));
    this.#closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        this.#closed = true;
        this.#failAll(new Error('QMP connection closed'));
        resolve();
      });
    });
  }

  /** Connects, reads the greeting and leaves negotiation mode; throws QmpUnreachableError when it cannot. */
  static async connect(socketPath: string, options: QmpClientOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.connectTimeoutMs ?? 5_000;
    const socket = createConnection({ path: socketPath });
    const client = new QmpClient(socketPath, socket, options);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new QmpUnreachableError('connect', undefined, { timedOut: true, timeoutMs })),
          timeoutMs,
        );
        socket.once('error', (error) => reject(new QmpUnreachableError('connect', error)));
        socket.once('close', () =>
          reject(new QmpUnreachableError('connect', new Error('closed before greeting'))),
        );
        client.#onGreeting = () => resolve();
      });
      await client.execute('qmp_capabilities', undefined, { timeoutMs });
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    // Later socket errors surface as 'close' (failing pending calls); keep them from throwing.
    socket.on('error', (error) => client.#log.debug({ err: error }, 'QMP socket error'));
    return client;
  }

  /** QEMU's version as the greeting gave it. */
  get version(): string {
    const v = this.#greeting?.QMP.version.qemu;
    return v === undefined ? 'unknown' : `${v.major}.${v.minor}.${v.micro}`;
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs one command and resolves with its `return` value. Throws QmpError when QEMU
   * answers with an error, TimeoutError after the deadline, QmpUnreachableError when the
   * connection is gone or ends before the answer.
   */
  execute(
    command: string,
    args?: Record<string, unknown>,
    options: { timeoutMs?: number } = {},
  ): Promise<unknown> {
    if (this.#closed)
      return Promise.reject(new QmpUnreachableError(command, new Error('QMP connection closed')));
    const id = this.#nextId++;
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new TimeoutError(`QMP ${command} got no answer within ${timeoutMs} ms`, { command, timeoutMs }),
        );
      }, timeoutMs);
      this.#pending.set(id, { command, resolve, reject, timer });
      const message = { execute: command, id, ...(args === undefined ? {} : { arguments: args }) };
      this.#socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Runs a command and checks its answer against `schema` (ValidationError when it does not fit). */
  async call<T>(
    schema: ZodType<T>,
    command: string,
    args?: Record<string, unknown>,
    options?: { timeoutMs?: number },
  ): Promise<T> {
    const value = await this.execute(command, args, options);
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw ValidationError.fromZod(`QMP ${command} answer`, parsed.error);
    return parsed.data;
  }

  /** query-status: the run state. */
  queryStatus(): Promise<StatusInfo> {
    return this.call(StatusInfo, 'query-status');
  }

  /** query-migrate: the last (or current) migration's progress. */
  queryMigrate(): Promise<MigrationInfo> {
    return this.call(MigrationInfo, 'query-migrate');
  }

  /** query-vm-generation-id: the GUID the vmgenid device shows the guest (a QmpError without one). */
  queryVmGenerationId(): Promise<GuidInfo> {
    return this.call(GuidInfo, 'query-vm-generation-id');
  }

  /** Subscribes to QMP events; returns the unsubscribe. */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ends the session (pending calls fail with QmpUnreachableError); resolves once the socket is closed. */
  async close(): Promise<void> {
    this.#socket.destroy();
    await this.#closedPromise;
  }

  #receive(chunk: string): void {
    this.#buffer += chunk;
    let newline = this.#buffer.indexOf('\n');
    while (newline >= 0) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line !== '') this.#dispatch(line);
      newline = this.#buffer.indexOf('\n');
    }
  }

  #dispatch(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.#log.warn({ line }, 'QMP sent a line that is not JSON; ignored');
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    if ('QMP' in message) {
      this.#greet(message);
      return;
    }
    if ('event' in message) {
      this.#emit(message);
      return;
    }
    const reply = QmpReply.safeParse(message);
    if (!reply.success) {
      this.#log.warn({ line }, 'QMP sent a message of unknown shape; ignored');
      return;
    }
    const id = reply.data.id;
    const pending = typeof id === 'number' ? this.#pending.get(id) : undefined;
    // A reply to a call that already timed out: nobody waits for it any more.
    if (pending === undefined) return;
    this.#pending.delete(id as number);
    clearTimeout(pending.timer);
    if ('error' in reply.data) {
      pending.reject(new QmpError(pending.command, reply.data.error.class, reply.data.error.desc));
    } else {
      pending.resolve(reply.data.return);
    }
  }

  #greet(message: unknown): void {
    const greeting = QmpGreeting.safeParse(message);
    if (!greeting.success) {
      this.#log.warn({ message }, 'QMP greeting of unknown shape');
      return;
    }
    this.#greeting = greeting.data;
    this.#onGreeting?.(greeting.data);
  }

  #emit(message: unknown): void {
    const event = QmpEvent.safeParse(message);
    if (!event.success) return;
    for (const listener of this.#listeners) {
      try {
        listener(event.data);
      } catch (error) {
        this.#log.error({ err: error }, 'QMP event listener threw');
      }
    }
  }

  #failAll(cause: Error): void {
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new QmpUnreachableError(pending.command, cause));
      this.#pending.delete(id);
    }
  }
}
