import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { closeServer, listen, urlOf } from '../dashboard/listen.ts';
import { type Logger, silentLogger } from '../logging/logger.ts';

/** Where Prometheus scrapes. */
export const METRICS_PATH = '/metrics';

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The scrape URL, `http://host:port/metrics`. */
  url: string;
  port: number;
  /** Stops listening; the port is free on return. */
  close(): Promise<void>;
}

/**
 * Serves a registry in Prometheus's text format at GET /metrics, and nothing else: a small
 * HTTP server of its own, so a worker needs no web framework. It listens on 127.0.0.1
 * unless told otherwise (port 0 picks a free port).
 */
export async function startMetricsServer(options: {
  registry: Registry;
  host?: string;
  port: number;
  logger?: Logger;
}): Promise<MetricsServer> {
  const { registry } = options;
  const log = options.logger ?? silentLogger;
  const server = createServer((request, response) => {
    answer(registry, request, response).catch((error: unknown) => {
      log.warn({ err: error }, 'metrics scrape failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end('metrics collection failed\n');
    });
  });
  const address = await listen(server, options.host ?? '127.0.0.1', options.port);
  const url = `${urlOf(address)}${METRICS_PATH}`;
  log.info({ url }, 'metrics listening');
  return { url, port: address.port, close: () => closeServer(server) };
}

async function answer(registry: Registry, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://metrics').pathname;
  if (path !== METRICS_PATH) {
    response
      .writeHead(404, { 'content-type': 'text/plain' })
      .end(`not found: metrics are at ${METRICS_PATH}\n`);
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET only\n');
    return;
  }
  const body = await registry.metrics();
  response.writeHead(200, { 'content-type': registry.contentType });
  response.end(request.method === 'HEAD' ? undefined : body);
}
