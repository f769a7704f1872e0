import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, HangarError } from '../errors/index.ts';

/** The port asked for is taken (the demo then tries the next one). */
export class PortInUseError extends HangarError {
  readonly port: number;

  constructor(host: string, port: number, cause?: unknown) {
    super(ErrorCode.IllegalState, `port ${port} on ${host} is already in use`, {
      details: { host, port },
      cause,
    });
    this.port = port;
  }
}

/** Starts `server` listening; resolves with the address it got (port 0 picks a free one). */
export function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, port, error) : error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Stops listening and drops open (keep-alive) connections, so the port is free on return. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error === undefined ? resolve() : reject(error)));
    server.closeAllConnections();
  });
}

/** The URL a browser uses for an address (wildcard hosts become loopback). */
export function urlOf(address: AddressInfo): string {
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  return `http://${address.family === 'IPv6' && host.includes(':') ? `[${host}]` : host}:${address.port}`;
}
