import { appendFileSync } from 'node:fs';

/** The simulator's log: timestamped lines appended to --log-file (stderr without one). */
export interface SimLog {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  /** Written whatever the verbosity (the startup line that says what this process is). */
  always(message: string): void;
}

const RANK = { ERROR: 0, WARN: 0, INFO: 1, DEBUG: 2 } as const;

/**
 * A log at CH's verbosity levels (0: errors and warnings, -v: info, -vv: debug). Lines are
 * written synchronously so a crash report's log tail includes what happened just before it.
 */
export function createSimLog(path: string | undefined, verbosity: number): SimLog {
  const write = (level: string, message: string) => {
    const line = `${new Date().toISOString()} hangar-ch-sim[${process.pid}] ${level} ${message}\n`;
    if (path === undefined) process.stderr.write(line);
    else appendFileSync(path, line);
  };
  const at = (level: keyof typeof RANK) => (message: string) => {
    if (RANK[level] <= verbosity) write(level, message);
  };
  return {
    error: at('ERROR'),
    warn: at('WARN'),
    info: at('INFO'),
    debug: at('DEBUG'),
    always: (m) => write('INFO', m),
  };
}
