import { connect, type Socket } from 'node:net';
import { execa, type ResultPromise } from 'execa';

/** What the stand-in server answers: the peer it saw. */
export interface SeenPeer {
  remoteAddress: string;
  remotePort: number;
}

/** Outcome of one bounded connection attempt. */
export type Attempt = { ok: true; peer: SeenPeer } | { ok: false; error: string };

// Answers every connection with the peer it sees, as one JSON line, then closes.
const SERVER = `
const [host, port] = process.argv.slice(1);
require('node:net')
  .createServer((s) => s.end(JSON.stringify({ remoteAddress: s.remoteAddress, remotePort: s.remotePort }) + '\\n'))
  .listen(Number(port), host, () => console.log('ready'));
`;

// One connection attempt bounded by a timeout; prints an Attempt as JSON.
const CLIENT = `
const [host, port, localAddress, timeoutMs] = process.argv.slice(1);
let data = '';
const done = (result) => { console.log(JSON.stringify(result)); process.exit(0); };
const socket = require('node:net').connect({ host, port: Number(port), localAddress: localAddress || undefined });
socket.setTimeout(Number(timeoutMs), () => done({ ok: false, error: 'timeout' }));
socket.on('data', (chunk) => { data += chunk; });
socket.on('end', () => done({ ok: true, peer: JSON.parse(data) }));
socket.on('error', (error) => done({ ok: false, error: error.message }));
`;

/** A stand-in server process inside a namespace; stop() kills it. */
export interface StandIn {
  stop(): Promise<void>;
}

/** Starts the peer-echo server bound to host:port inside `netns`, resolved once it listens. */
export async function startServer(netns: string, host: string, port: number): Promise<StandIn> {
  const child: ResultPromise = execa(
    'ip',
    ['netns', 'exec', netns, process.execPath, '-e', SERVER, host, String(port)],
    {
      reject: false,
      timeout: 60_000,
    },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server in ${netns} did not start`)), 5_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (String(chunk).includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.then((result) => {
      clearTimeout(timer);
      reject(new Error(`server in ${netns} exited: ${String(result.stderr)}`));
    });
  });
  return {
    async stop() {
      child.kill('SIGKILL');
      await child;
    },
  };
}

/** Connects from inside `netns` (optionally from `localAddress`), bounded by `timeoutMs`. */
export async function connectFrom(
  netns: string,
  target: { host: string; port: number; localAddress?: string },
  timeoutMs = 1_000,
): Promise<Attempt> {
  const { stdout } = await execa(
    'ip',
    [
      'netns',
      'exec',
      netns,
      process.execPath,
      '-e',
      CLIENT,
      target.host,
      String(target.port),
      target.localAddress ?? '',
      String(timeoutMs),
    ],
    { timeout: timeoutMs + 5_000 },
  );
  return JSON.parse(String(stdout)) as Attempt;
}

/** Connects from the host itself, bounded by `timeoutMs`. */
export function connectFromHost(host: string, port: number, timeoutMs = 1_000): Promise<Attempt> {
  return new Promise((resolve) => {
    let data = '';
    const socket: Socket = connect({ host, port });
    const done = (result: Attempt): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, error: 'timeout' }));
    socket.on('data', (chunk) => {
      data += String(chunk);
    });
    socket.on('end', () => done({ ok: true, peer: JSON.parse(data) as SeenPeer }));
    socket.on('error', (error) => done({ ok: false, error: error.message }));
  });
}

/**
 * Throws unless the host routes `address` through `dev` (a link the test created): checked
 * before every connection so no packet can follow the default route off this machine.
 */
export async function assertRoutedVia(address: string, dev: string): Promise<void> {
  const { stdout } = await execa('ip', ['-j', 'route', 'get', address]);
  const [route] = JSON.parse(String(stdout)) as { dev?: string }[];
  if (route?.dev !== dev) {
    throw new Error(`refusing to connect: ${address} is routed via ${route?.dev}, not the test's ${dev}`);
  }
}
