import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * The root logger: pino JSON to stdout (or to `destination`). Library code takes a logger
 * as a parameter and makes children from it; this is only the default for processes.
 */
export function createLogger(
  options: { level?: string; name?: string; destination?: number | string } = {},
): Logger {
  const level = options.level ?? process.env.HANGAR_LOG_LEVEL ?? 'info';
  const destination = pino.destination({ dest: options.destination ?? 1, sync: false });
  return pino({ level, name: options.name ?? 'hangar', base: { pid: process.pid } }, destination);
}

/** A logger that drops everything: the default for library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
