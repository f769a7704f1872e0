import express, { type ErrorRequestHandler, type Request } from 'express';
import { ErrorCode, type HangarClient, HangarError } from 'hangar';

/** The HTTP status for each hangar error code a request can meet; anything else is a 500. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.Validation]: 400,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.IllegalState]: 409,
  [ErrorCode.Capacity]: 503,
  [ErrorCode.HostLost]: 503,
  [ErrorCode.Timeout]: 504,
};

/** States after which a sandbox has nothing more to tell: its event stream ends there. */
const FINAL_STATES = new Set(['destroyed', 'failed']);

/**
 * A sandbox service a backend team would put in front of hangar:
 *   POST   /sandboxes             create one; answers with its id and address once it runs
 *   GET    /sandboxes?label=k=v   the live ones with every given label, a page at a time
 *   GET    /sandboxes/:id         one sandbox's record
 *   DELETE /sandboxes/:id         destroy it
 *   GET    /sandboxes/:id/events  its events as server-sent events (Last-Event-ID resumes)
 */
export function createApp(client: HangarClient): express.Express {
  const app = express();
  app.use(express.json());

  app.post('/sandboxes', async (req, res) => {
    const { template = 'base', vcpus = 1, memoryMib = 256, labels } = req.body ?? {};
    const job = await client.create({ template, vcpus, memoryMib, labels });
    const { sandboxId, hostId, address, state } = await job.result();
    res.status(201).json({ sandboxId, hostId, address, state });
  });

  app.get('/sandboxes', async (req, res) => {
    const page = await client.listPage(
      { labels: labelsOf(req) },
      { limit: Number(req.query.limit ?? 100), cursor: queryString(req, 'cursor') },
    );
    res.json({ sandboxes: page.records, cursor: page.cursor });
  });

  app.get('/sandboxes/:id', async (req, res) => {
    const sandbox = await client.get(req.params.id);
    if (sandbox === undefined) throw new HangarError(ErrorCode.NotFound, `no sandbox ${req.params.id}`);
    res.json(sandbox);
  });

  app.delete('/sandboxes/:id', async (req, res) => {
    await (await client.destroy(req.params.id)).result();
    res.status(204).end();
  });

  app.get('/sandboxes/:id/events', async (req, res) => {
    // Stops reading when the caller goes away; the stream ends once the sandbox is gone.
    const reading = new AbortController();
    res.on('close', () => reading.abort());
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const after = req.get('last-event-id') ?? queryString(req, 'after') ?? '0';
    const events = client.events({ after, sandboxId: req.params.id, signal: reading.signal });
    for await (const { position, event } of events) {
      res.write(`id: ${position}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      if (event.type === 'sandbox.state' && FINAL_STATES.has(event.state)) break;
    }
    res.end();
  });

  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    if (res.headersSent) return res.end();
    if (error instanceof HangarError) {
      res.status(STATUS[error.code] ?? 500).json({ code: error.code, message: error.message });
    } else {
      res.status(500).json({ code: ErrorCode.Internal, message: String(error) });
    }
  };
  app.use(onError);
  return app;
}

/** `?label=team=search&label=tier=gold` as `{ team: 'search', tier: 'gold' }`. */
function labelsOf(req: Request): Record<string, string> {
  const given = req.query.label;
  const pairs = (Array.isArray(given) ? given : [given]).filter((pair) => typeof pair === 'string');
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      return at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

function queryString(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' ? value : undefined;
}
