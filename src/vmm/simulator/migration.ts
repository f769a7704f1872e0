import { connect, createServer, type Server, type Socket } from 'node:net';
import { osErrorText, refused } from './ch-errors.ts';
import type { ReceiveMigrationBody, SendMigrationBody } from './request-bodies.ts';
import type { SimMigratingVm } from './state-machine.ts';

// vm.send-migration and vm.receive-migration between two simulators. The checks and their
// messages are CH's (api/mod.rs validate, migration/transport.rs); the wire is the
// simulator's own (one JSON line, answered "ok"), not CH's migration protocol, so a
// simulator migrates only to another simulator.

/** Where a migration goes: CH's `unix:<path>` or `tcp:<host>:<port>`. */
export type MigrationAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

const SEND_FAILED = 'Failed to send migratable component snapshot';
const RECEIVE_FAILED = 'Failed to receive migratable component snapshot';
const MAX_CONNECTIONS = 128;
const NO_TLS = 'hangar simulator: TLS migration is not simulated';

/** Why a tcp: address does not parse, as CH's TcpAddressParseError chain. */
class AddressError extends Error {
  readonly chain: string[];

  constructor(chain: string[]) {
    super(chain.join(': '));
    this.chain = chain;
  }
}

/** CH's tcp_address_to_server_name: `<host>:<port>` or `[<ipv6>]:<port>`, checked. */
function tcpAddress(address: string): { host: string; port: number } {
  const bad = (...chain: string[]) => new AddressError(chain);
  let host: string;
  let port: string;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0) throw bad("Missing closing ']' for bracketed IPv6 address");
    if (address[close + 1] !== ':') throw bad('Missing port separator after bracketed host');
    [host, port] = [address.slice(1, close), address.slice(close + 2)];
  } else {
    const colon = address.lastIndexOf(':');
    if (colon < 0) throw bad('Missing TCP port');
    [host, port] = [address.slice(0, colon), address.slice(colon + 1)];
  }
  if (host === '') throw bad('Host must not be empty');
  if (port === '') throw bad('Port must not be empty');
  // Rust's u16 parse: an optional '+', digits only, at most 65535.
  if (!/^\+?[0-9]+$/.test(port)) throw bad(`Invalid TCP port: ${port}`, 'invalid digit found in string');
  if (Number(port) > 0xffff) throw bad(`Invalid TCP port: ${port}`, 'number too large to fit in target type');
  return { host, port: Number(port) };
}

/** Checks a vm.send-migration body as CH does (VmSendMigrationData::validate), in CH's order. */
export function checkSendRequest(request: SendMigrationBody): MigrationAddress {
  const invalid = (...why: string[]) =>
    refused('vm.send-migration', 500, SEND_FAILED, 'Invalid send migration configuration', ...why);
  const rule = (why: string) => invalid(`Error validating send migration parameters: ${why}`);
  const url = request.destination_url;
  const connections = request.connections ?? 1;
  let address: MigrationAddress;
  if (url.startsWith('tcp:')) {
    try {
      address = { kind: 'tcp', ...tcpAddress(url.slice(4)) };
    } catch (error) {
      throw invalid(
        'Error validating send migration parameters: destination_url must use tcp:<host>:<port> or unix:<path>.',
        ...(error as AddressError).chain,
      );
    }
  } else if (url.startsWith('unix:') && url.length > 5) {
    if (connections > 1) throw rule('UNIX sockets and connections option cannot be used at the same time.');
    if (request.tls_dir !== undefined)
      throw rule('UNIX sockets and TLS encryption cannot be used at the same time.');
    address = { kind: 'unix', path: url.slice(5) };
  } else throw rule('destination_url must use tcp:<host>:<port> or unix:<path>.');
  if (connections > MAX_CONNECTIONS) throw rule(`connections must not exceed ${MAX_CONNECTIONS}.`);
  if (request.local === true) {
    if (address.kind !== 'unix') throw rule('local option is only supported with UNIX sockets.');
    if (connections > 1) throw rule('local option and connections option cannot be used at the same time.');
  }
  if (request.preserve_source === true && request.local !== true)
    throw rule('preserve_source option is only supported with the local option.');
  if (request.tls_dir !== undefined) throw rule(`invalid TLS configuration for send-migration: ${NO_TLS}`);
  if (request.memory_mode === 'Postcopy') {
    if (request.local === true) throw rule('memory_mode=postcopy and local options are mutually exclusive.');
    if (connections > 1)
      throw rule('memory_mode=postcopy currently requires a single connection (connections=1).');
  }
  return address;
}

/** Checks a vm.receive-migration body as CH does (VmReceiveMigrationData::validate). */
export function checkReceiveRequest(request: ReceiveMigrationBody): MigrationAddress {
  const invalid = (...why: string[]) =>
    refused('vm.receive-migration', 500, RECEIVE_FAILED, 'Invalid receive migration configuration', ...why);
  const url = request.receiver_url;
  let address: MigrationAddress;
  if (url.startsWith('tcp:')) {
    try {
      address = { kind: 'tcp', ...tcpAddress(url.slice(4)) };
    } catch (error) {
      throw invalid(
        'Expected receiver_url in the form of either `tcp:<host>:<port>` or `unix:<path>:`',
        ...(error as AddressError).chain,
      );
    }
  } else if (url.startsWith('unix:') && url.length > 5) {
    if (request.tls_dir !== undefined)
      throw invalid('UNIX sockets and TLS encryption cannot be used at the same time');
    address = { kind: 'unix', path: url.slice(5) };
  } else throw invalid('Expected receiver_url to either use `tcp` or `unix` prefix');
  if (request.tls_dir !== undefined) throw invalid('Invalid TLS configuration for receive-migration', NO_TLS);
  const zones = (request.zone_updates ?? []).map((update) => update.id);
  if (new Set(zones).size !== zones.length)
    throw invalid('More than one update was defined for at least one memory zone');
  if (zones.includes('')) throw invalid('One or more memory zone updates contained an empty ID');
  return address;
}

/** Binds the receiving end (CH binds without removing what is at a socket path). */
export function listenForMigration(address: MigrationAddress): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error) => {
      const what = address.kind === 'unix' ? 'Error binding to UNIX socket' : 'Error binding to TCP socket';
      reject(refused('vm.receive-migration', 500, RECEIVE_FAILED, what, osErrorText(error)));
    });
    const ready = () => resolve(server);
    if (address.kind === 'unix') server.listen(address.path, ready);
    else server.listen(address.port, address.host, ready);
  });
}

/** Accepts one sender and reads its VM; answers "ok" once the VM is taken, then stops listening. */
export async function receiveVm(server: Server): Promise<SimMigratingVm> {
  try {
    return await new Promise<SimMigratingVm>((resolve, reject) => {
      server.once('connection', (socket: Socket) => {
        // A sender that goes away before its VM is read: CH's read_exact fails the same way.
        const lost = () =>
          reject(refused('vm.receive-migration', 500, 'Socket error', 'failed to fill whole buffer'));
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          text += chunk;
          const end = text.indexOf('\n');
          if (end < 0) return;
          try {
            const message = JSON.parse(text.slice(0, end)) as SimMigratingVm;
            socket.end('ok\n');
            resolve({ config: message.config, state: message.state, vmState: message.vmState });
          } catch {
            socket.destroy();
          }
        });
        socket.once('close', lost);
        socket.once('error', lost);
      });
    });
  } finally {
    server.close();
  }
}

/** Sends the VM to a receiver; true once it answered "ok", false if it cannot be reached, closes or times out. */
export function sendVm(address: MigrationAddress, vm: SimMigratingVm, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = address.kind === 'unix' ? connect(address.path) : connect(address.port, address.host);
    let answer = '';
    const done = (sent: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(sent);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref();
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify({ hangar_sim_migration: 1, ...vm })}\n`));
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (answer.startsWith('ok\n')) done(true);
    });
    socket.once('error', () => done(false));
    socket.once('close', () => done(answer.startsWith('ok\n')));
  });
}
