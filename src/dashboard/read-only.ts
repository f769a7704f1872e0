import type { RequestHandler } from 'express';

// Bull Board reads with GET and acts (add, retry, promote, clean, pause, remove...) with
// POST, PUT and PATCH; our own routes only read. So reading is exactly GET and HEAD.
const READING_METHODS = new Set(['GET', 'HEAD']);

/** What a refused request is told, naming the switch that would allow it. */
export const READ_ONLY_MESSAGE =
  'the dashboard is read-only: start it with --allow-actions (allowActions: true) to add, retry, ' +
  'promote, clean, pause or remove jobs';

/**
 * Express middleware that answers 403 to every request but GET and HEAD. Mounted in front of
 * the whole app rather than on Bull Board's path, so no spelling of the path (case, double
 * slashes) gets past it, and a Bull Board route that misses its own readOnlyMode check (in
 * this version or a later one) still cannot act.
 */
export function refuseActions(): RequestHandler {
  return (request, response, next) => {
    if (READING_METHODS.has(request.method)) {
      next();
      return;
    }
    response.status(403).json({ error: READ_ONLY_MESSAGE });
  };
}
