import { execa } from 'execa';
import { CommandError } from '../errors/index.ts';

/** What one command printed and how it ended. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  /** Fed to the command's stdin (an nft ruleset, say). */
  input?: string;
  /** Kill the command after this long; default 30 s. */
  timeoutMs?: number;
  /** Return a non-zero exit instead of throwing CommandError. */
  allowFailure?: boolean;
}

/**
 * Runs host commands as argument vectors (never a shell string). Host modules take a
 * runner so tests can record the exact argv where the kernel driver is missing (dm).
 */
export interface CommandRunner {
  run(file: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
}

/** The real runner: execa, no shell, bounded time. */
export class ExecaRunner implements CommandRunner {
  async run(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const result = await execa(file, args, {
      input: options.input,
      timeout: options.timeoutMs ?? 30_000,
      reject: false,
      stripFinalNewline: true,
    });
    const exitCode = typeof result.exitCode === 'number' ? result.exitCode : -1;
    if (exitCode !== 0 && !options.allowFailure) {
      const reason = result.timedOut
        ? `timed out after ${options.timeoutMs ?? 30_000} ms`
        : (result as { code?: string }).code === 'ENOENT'
          ? `${file} not found on PATH`
          : String(result.stderr);
      throw new CommandError([file, ...args], result.exitCode, reason, result.failed ? result : undefined);
    }
    return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode };
  }
}

/** The process-wide default runner. */
export const defaultRunner: CommandRunner = new ExecaRunner();
