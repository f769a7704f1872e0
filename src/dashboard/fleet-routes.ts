import { type ErrorRequestHandler, type Response, Router } from 'express';
import { ErrorCode, HangarError, ValidationError } from '../errors/index.ts';
import type { Logger } from '../logging/logger.ts';
import { matches } from '../state/sandbox-listing.ts';
import { Identifier } from '../validation/identifiers.ts';
import type { FleetContext } from './fleet-context.ts';
import { fleetEvents } from './fleet-events.ts';
import { countsFragment, fleetPage, hostsFragment } from './fleet-page.ts';
import { parseFilter, sandboxQuery } from './fleet-query.ts';
import { FLEET_CSS } from './fleet-style.ts';
import { html, type SafeHtml } from './html.ts';
import { FLEET_PATH, page } from './layout.ts';
import { LIVE_SCRIPT } from './live-script.ts';
import { jobsFragment, recordFragment, sandboxPage } from './sandbox-page.ts';
import { sandboxRow } from './sandboxes-view.ts';

// Everything a page loads comes from the dashboard itself; nothing inline runs.
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Listings leave these out (their records stay a while after the end), so live rows do too. */
const GONE: ReadonlySet<string> = new Set(['destroyed', 'failed']);

/** The fleet pages' router, and what ends their open event streams. */
export interface FleetRoutes {
  router: Router;
  /** Ends every open event stream (before the server closes, so each ends cleanly). */
  close(): Promise<void>;
}

/**
 * The fleet pages beside Bull Board, all read-only GETs: `/fleet` (hosts, sandboxes,
 * live events), `/fleet/sandboxes/:id`, the server-sent events at `/fleet/events`, the
 * fragments the live script swaps in, and its script and stylesheet.
 */
export function fleetRoutes(ctx: FleetContext, options: { redisUrl: string; logger: Logger }): FleetRoutes {
  const router = Router();
  const events = fleetEvents({ redisUrl: options.redisUrl, keys: ctx.keys, logger: options.logger });
  const frame = { keyPrefix: ctx.keys.keyPrefix, boardPath: ctx.boardPath };

  router.use(FLEET_PATH, (_request, response, next) => {
    response.set({
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    });
    next();
  });
  router.get(FLEET_PATH, async (request, response) => {
    sendHtml(response, await fleetPage(ctx, parseFilter(request.query)));
  });
  router.get(`${FLEET_PATH}/sandboxes/:id`, async (request, response) => {
    const id = sandboxIdOf(request.params.id);
    const body = await sandboxPage(ctx, id);
    if (body === undefined) throw new HangarError(ErrorCode.NotFound, `no sandbox ${id}`);
    sendHtml(response, body);
  });
  router.get(`${FLEET_PATH}/events`, events.handler);

  router.get(`${FLEET_PATH}/fragments/hosts`, async (_request, response) => {
    sendHtml(response, await hostsFragment(ctx));
  });
  router.get(`${FLEET_PATH}/fragments/counts`, async (_request, response) => {
    sendHtml(response, await countsFragment(ctx));
  });
  // A sandbox's row when it meets the filter in the query (204 when not): for new sandboxes.
  router.get(`${FLEET_PATH}/fragments/sandbox-row/:id`, async (request, response) => {
    const filter = parseFilter(request.query);
    const record = await ctx.store.getSandbox(sandboxIdOf(request.params.id));
    if (record === undefined || GONE.has(record.state) || !matches(record, sandboxQuery(filter))) {
      response.status(204).end();
      return;
    }
    sendHtml(response, sandboxRow(record));
  });
  router.get(`${FLEET_PATH}/fragments/sandbox/:id/:part`, async (request, response) => {
    const id = sandboxIdOf(request.params.id);
    const part = request.params.part;
    if (part !== 'record' && part !== 'jobs')
      throw new HangarError(ErrorCode.NotFound, `no fragment ${part}`);
    const fragment = part === 'record' ? await recordFragment(ctx, id) : await jobsFragment(ctx, id);
    if (fragment === undefined) throw new HangarError(ErrorCode.NotFound, `no sandbox ${id}`);
    sendHtml(response, fragment);
  });

  router.get(`${FLEET_PATH}/assets/fleet.css`, (_request, response) => {
    response.set('cache-control', 'no-cache').type('text/css').send(FLEET_CSS);
  });
  router.get(`${FLEET_PATH}/assets/live.js`, (_request, response) => {
    response.set('cache-control', 'no-cache').type('text/javascript').send(LIVE_SCRIPT);
  });

  const onError: ErrorRequestHandler = (error, request, response, next) => {
    if (!request.path.startsWith(FLEET_PATH)) return next(error);
    const status = statusOf(error);
    if (status === 500) options.logger.warn({ err: error, path: request.path }, 'fleet page failed');
    if (response.headersSent) return response.end();
    const message =
      error instanceof HangarError ? error.message : 'the page could not be read; see the dashboard log';
    response
      .status(status)
      .type('html')
      .send(page({ ...frame, title: `${status}` }, html`<h1>${status}</h1><p class="error">${message}</p>`));
  };
  router.use(onError);

  return { router, close: () => events.close() };
}

function sendHtml(response: Response, body: string | SafeHtml): void {
  response.type('html').send(typeof body === 'string' ? body : body.text);
}

function sandboxIdOf(value: string | string[] | undefined): string {
  const parsed = Identifier.safeParse(value);
  if (!parsed.success) throw ValidationError.fromZod('sandbox id', parsed.error);
  return parsed.data;
}

function statusOf(error: unknown): number {
  if (!(error instanceof HangarError)) return 500;
  if (error.code === ErrorCode.Validation) return 400;
  if (error.code === ErrorCode.NotFound) return 404;
  return 500;
}
