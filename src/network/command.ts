import { CommandError } from '../errors/index.ts';
import type { CommandRunner } from '../exec/command-runner.ts';

/** stderr of iproute2 and nft when the object asked about is not there. */
export const ABSENT =
  /Cannot open network namespace|does not exist|Cannot find device|No such file or directory|No such process|No such device/;

/**
 * Runs a command and returns its stdout, or undefined when it failed in the expected way
 * (stderr matches `tolerate`, by default: the object it names is absent); any other failure
 * throws CommandError.
 */
export async function runTolerating(
  runner: CommandRunner,
  argv: readonly [string, ...string[]],
  options: { input?: string; tolerate?: RegExp } = {},
): Promise<string | undefined> {
  const [file, ...args] = argv;
  const result = await runner.run(file, args, { input: options.input, allowFailure: true });
  if (result.exitCode === 0) return result.stdout;
  if ((options.tolerate ?? ABSENT).test(result.stderr)) return undefined;
  throw new CommandError(argv, result.exitCode, result.stderr);
}

/** `ip` argv, with `-n NS` when aimed at a namespace. */
export function ipArgs(netns: string | undefined, ...args: string[]): [string, ...string[]] {
  return netns === undefined ? ['ip', ...args] : ['ip', '-n', netns, ...args];
}

/** What an `ip -batch` run did: the stdout of each line that ran, and the line that failed. */
export interface BatchResult {
  outputs: string[];
  /** 1-based line ip reported as failed, with its stderr; absent when every line ran. */
  failed?: { line: number; stderr: string };
}

/**
 * Runs read-only `ip -j` subcommands in one `ip -batch -` process (one process instead of
 * one per read); each prints one JSON line. Stops at the first failing line, which is
 * reported; undefined when the namespace does not exist.
 */
export async function ipJsonBatch(
  runner: CommandRunner,
  netns: string | undefined,
  lines: readonly (readonly string[])[],
): Promise<BatchResult | undefined> {
  const argv = ipArgs(netns, '-j', '-batch', '-');
  const input = `${lines.map((line) => line.join(' ')).join('\n')}\n`;
  const result = await runner.run('ip', argv.slice(1), { input, allowFailure: true });
  const outputs = result.stdout.split('\n').filter((line) => line.trim() !== '');
  if (result.exitCode === 0) return { outputs };
  if (/Cannot open network namespace/.test(result.stderr)) return undefined;
  const line = /Command failed -:(\d+)/.exec(result.stderr)?.[1];
  if (line === undefined) throw new CommandError(argv, result.exitCode, result.stderr);
  return { outputs, failed: { line: Number(line), stderr: result.stderr } };
}
