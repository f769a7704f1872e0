import { isAbsolute } from 'node:path';
import { RestoreConfig } from '../cloud-hypervisor/schemas/index.ts';
import { type FaultPlan, noFaults, parseFaults } from './faults.ts';
import { type Latency, parseLatency, zeroLatency } from './latency.ts';

/** What the simulator was asked to do, from CH's flags plus its own `--sim-*` ones. */
export interface SimArgs {
  /** Print the version and exit. */
  version: boolean;
  help: boolean;
  apiSocket: string;
  logFile: string | undefined;
  /** Number of -v: 0 warnings, 1 info, 2+ debug (as CH). */
  verbosity: number;
  /** Where to append VMM events as JSON (CH's --event-monitor path=...). */
  eventMonitor: string | undefined;
  restore: RestoreConfig | undefined;
  latency: Latency;
  faults: FaultPlan;
}

/** A command line the simulator does not accept (CH exits 2 on these). */
export class SimUsageError extends Error {}

const VALUE_FLAGS = [
  '--api-socket',
  '--log-file',
  '--restore',
  '--event-monitor',
  '--sim-latency',
  '--sim-fault',
];

/** Parses argv (without node and script) and the HANGAR_SIM_* variables; flags win over env. */
export function parseSimArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SimArgs {
  const values = new Map<string, string>();
  let verbosity = 0;
  let version = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--version' || arg === '-V') version = true;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (/^-v+$/.test(arg)) verbosity += arg.length - 1;
    else if (arg === '--verbose') verbosity += 1;
    else {
      const eq = arg.indexOf('=');
      const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
      if (!VALUE_FLAGS.includes(flag)) throw new SimUsageError(`unexpected argument '${arg}' found`);
      const value = flag === arg ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new SimUsageError(`a value is required for '${flag}'`);
      values.set(flag, value);
    }
  }
  if (version || help) return { ...emptyArgs(), version, help };

  const socketValue = values.get('--api-socket');
  if (socketValue === undefined) throw new SimUsageError('--api-socket is required by the simulator');
  return {
    version,
    help,
    apiSocket: parseApiSocket(socketValue),
    logFile: values.get('--log-file'),
    verbosity,
    eventMonitor: optionalPath('--event-monitor', values.get('--event-monitor')),
    restore: optionalRestore(values.get('--restore')),
    latency: guarded('--sim-latency', () =>
      parseLatency(values.get('--sim-latency') ?? env.HANGAR_SIM_LATENCY ?? ''),
    ),
    faults: guarded('--sim-fault', () =>
      parseFaults(values.get('--sim-fault') ?? env.HANGAR_SIM_FAULT ?? ''),
    ),
  };
}

/** `--restore source_url=file:///dir[,prefault=on|off][,memory_restore_mode=copy|ondemand][,resume=true|false]`. */
export function parseRestoreFlag(text: string): RestoreConfig {
  const fields = keyValues('--restore', text);
  const config: Record<string, unknown> = {};
  for (const [key, value] of fields) {
    if (key === 'source_url') config.source_url = value;
    else if (key === 'prefault' || key === 'resume') config[key] = parseToggle(`--restore ${key}`, value);
    else if (key === 'memory_restore_mode') {
      const mode = { copy: 'Copy', ondemand: 'OnDemand' }[value.toLowerCase()];
      if (mode === undefined)
        throw new SimUsageError(`--restore memory_restore_mode must be copy or ondemand`);
      config.memory_restore_mode = mode;
    } else throw new SimUsageError(`--restore: unknown parameter '${key}'`);
  }
  const parsed = RestoreConfig.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SimUsageError(`--restore: ${issue?.path.join('.') || 'value'}: ${issue?.message}`);
  }
  return parsed.data;
}

function parseApiSocket(value: string): string {
  const path = value.includes('=') ? keyValues('--api-socket', value).get('path') : value;
  if (path === undefined)
    throw new SimUsageError('--api-socket needs path=/abs/socket (fd= is not simulated)');
  if (!isAbsolute(path)) throw new SimUsageError(`--api-socket path must be absolute, got '${path}'`);
  return path;
}

function optionalPath(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const path = value.includes('=') ? keyValues(flag, value).get('path') : value;
  if (path === undefined) throw new SimUsageError(`${flag} needs path=...`);
  return path;
}

function optionalRestore(value: string | undefined): RestoreConfig | undefined {
  return value === undefined ? undefined : parseRestoreFlag(value);
}

function keyValues(flag: string, text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new SimUsageError(`${flag}: expected key=value, got '${part}'`);
    out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

function parseToggle(what: string, value: string): boolean {
  if (value === 'on' || value === 'true') return true;
  if (value === 'off' || value === 'false') return false;
  throw new SimUsageError(`${what} must be on|off|true|false, got '${value}'`);
}

function guarded<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new SimUsageError(`${flag}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function emptyArgs(): SimArgs {
  return {
    version: false,
    help: false,
    apiSocket: '',
    logFile: undefined,
    verbosity: 0,
    eventMonitor: undefined,
    restore: undefined,
    latency: zeroLatency(),
    faults: noFaults(),
  };
}
