import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';
import { readEvents } from '../events/event-reader.ts';
import type { Logger } from '../logging/logger.ts';
import type { KeySpace } from '../queues/names.ts';
import { connectRedis, type RedisClient } from '../redis/connections.ts';
import { Identifier } from '../validation/identifiers.ts';

/** A stream position as `readEvents` takes it: an entry id, '0' (everything kept) or '$' (only new). */
const Position = z.string().regex(/^(\d+-\d+|0|\$)$/, 'must be a stream position such as 1700000000000-0');

const EventsQuery = z.object({
  sandboxId: Identifier.optional(),
  after: Position.optional(),
});

/** How many event streams one dashboard serves at once: each holds a Redis connection. */
export const MAX_EVENT_STREAMS = 32;

// A comment line now and then, so proxies and browsers keep a quiet stream open.
const KEEP_ALIVE_MS = 15_000;

/** The `/fleet/events` handler, and a way to end every stream it serves (the dashboard's close). */
export interface FleetEvents {
  handler: RequestHandler;
  /** Ends every open stream; resolves once each has ended its response. */
  close(): Promise<void>;
}

/**
 * Server-sent events from the fleet's stream (`?sandboxId=` for one sandbox's): each
 * event's `id` is its stream position, so a browser that reconnects sends it back as
 * Last-Event-ID and resumes where it stopped (else `?after=`, else only new events).
 * Each stream reads on a connection of its own (a blocking read holds it) and ends when
 * the client goes away, Redis fails (the browser then reconnects), or the dashboard closes.
 */
export function fleetEvents(options: { redisUrl: string; keys: KeySpace; logger: Logger }): FleetEvents {
  const open = new Map<Response, { stop: () => void; ended: Promise<void> }>();

  const handler: RequestHandler = async (request, response) => {
    const { sandboxId, after } = parseQuery(request);
    if (open.size >= MAX_EVENT_STREAMS) {
      response.status(503).set('retry-after', '10').type('text/plain').send('too many event streams open\n');
      return;
    }
    if (request.method === 'HEAD') {
      response.status(200).type('text/event-stream').end();
      return;
    }
    const reading = new AbortController();
    const reader: RedisClient = connectRedis(options.redisUrl, 'blocking');
    reader.on('error', (error) => options.logger.warn({ err: error }, 'fleet events connection error'));
    // An abort ends the blocking read at once (readEvents then returns) rather than at its timeout.
    const stop = () => {
      reading.abort();
      reader.disconnect();
    };
    const ended = Promise.withResolvers<void>();
    open.set(response, { stop, ended: ended.promise });
    response.on('close', stop);
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
    response.write('retry: 2000\n\n');
    const keepAlive = setInterval(() => response.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    try {
      const events = readEvents(reader, options.keys, {
        after: after ?? '$',
        signal: reading.signal,
        logger: options.logger,
        ...(sandboxId === undefined ? {} : { sandboxId }),
      });
      // JSON.stringify escapes newlines, so one event is always one `data:` line.
      for await (const { position, event } of events) {
        response.write(`id: ${position}\ndata: ${JSON.stringify(event)}\n\n`);
      }
    } catch (error) {
      if (!reading.signal.aborted) options.logger.warn({ err: error }, 'fleet events stream failed');
    } finally {
      clearInterval(keepAlive);
      open.delete(response);
      stop();
      response.end();
      ended.resolve();
    }
  };

  return {
    handler,
    async close() {
      const streams = [...open.values()];
      for (const { stop } of streams) stop();
      await Promise.all(streams.map(({ ended }) => ended));
    },
  };
}

// Last-Event-ID (a reconnecting browser's) wins over `?after=` (the page's first connect).
function parseQuery(request: Request): { sandboxId?: string; after?: string } {
  const parsed = EventsQuery.safeParse({
    ...(typeof request.query.sandboxId === 'string' ? { sandboxId: request.query.sandboxId } : {}),
    ...(typeof request.query.after === 'string' ? { after: request.query.after } : {}),
  });
  if (!parsed.success) throw ValidationError.fromZod('events query', parsed.error);
  const resume = request.get('last-event-id');
  if (resume === undefined || resume === '') return parsed.data;
  const position = Position.safeParse(resume);
  if (!position.success) throw ValidationError.fromZod('Last-Event-ID', position.error);
  return { ...parsed.data, after: position.data };
}
