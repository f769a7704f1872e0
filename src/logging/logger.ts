import { type Logger, pino } from 'pino';
import { redact } from '../redis/redact.ts';

export type { Logger };

/**
 * The root logger: pino JSON to stdout (or to `destination`). Library code takes a logger
 * as a parameter and makes children from it; this is only the default for processes.
 * Every line is passed through redact() on its way out: the places that log a Redis URL
 * redact it themselves, and this catches one that a library's error message carries.
 */
export function createLogger(
  options: { level?: string; name?: string; destination?: number | string } = {},
): Logger {
  const level = options.level ?? process.env.HANGAR_LOG_LEVEL ?? 'info';
  const destination = pino.destination({ dest: options.destination ?? 1, sync: false });
  return pino(
    { level, name: options.name ?? 'hangar', base: { pid: process.pid }, hooks: { streamWrite: redact } },
    destination,
  );
}

/** A logger that drops everything: the default for library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
