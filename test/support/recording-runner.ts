import { isDeepStrictEqual } from 'node:util';
import { CommandError } from '../../src/errors/index.ts';
import type { CommandResult, CommandRunner, RunOptions } from '../../src/exec/command-runner.ts';

/** One command a RecordingRunner was asked to run. */
export interface RecordedCall {
  file: string;
  args: string[];
  input?: string;
}

/** How a recorded command answers: what it prints and how it exits (default 0). */
export interface Reply {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
}

/** Answers calls not covered by the script. */
export type Responder = (call: RecordedCall) => Reply | Promise<Reply>;

/**
 * A CommandRunner for hosts that lack a kernel driver (device-mapper here): it records every
 * call and answers from a script of expected calls (exact argv, in order), then from a
 * responder. Non-zero exits throw CommandError as the real runner does, unless allowFailure.
 */
export class RecordingRunner implements CommandRunner {
  readonly calls: RecordedCall[] = [];
  readonly #script: { argv: string[]; reply: Reply }[] = [];
  readonly #responder: Responder | undefined;

  constructor(responder?: Responder) {
    this.#responder = responder;
  }

  /** Queues the next expected call (file first) and its reply. */
  expect(argv: readonly string[], reply: Reply = {}): this {
    this.#script.push({ argv: [...argv], reply });
    return this;
  }

  /** Every call so far as an argv array, file first. */
  argvs(): string[][] {
    return this.calls.map((call) => [call.file, ...call.args]);
  }

  /** Forgets the calls recorded so far (the script stays). */
  clear(): void {
    this.calls.length = 0;
  }

  /** Throws if a scripted call never came. */
  assertScriptDone(): void {
    if (this.#script.length > 0) {
      throw new Error(`expected calls never made: ${JSON.stringify(this.#script.map((s) => s.argv))}`);
    }
  }

  async run(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const call: RecordedCall = { file, args: [...args] };
    if (options.input !== undefined) call.input = options.input;
    this.calls.push(call);
    const argv = [file, ...args];
    let reply: Reply;
    const next = this.#script.shift();
    if (next !== undefined) {
      if (!isDeepStrictEqual(next.argv, argv)) {
        throw new Error(`expected ${JSON.stringify(next.argv)}, got ${JSON.stringify(argv)}`);
      }
      reply = next.reply;
    } else if (this.#responder !== undefined) {
      reply = await this.#responder(call);
    } else {
      throw new Error(`unexpected command ${JSON.stringify(argv)}`);
    }
    const result = { stdout: reply.stdout ?? '', stderr: reply.stderr ?? '', exitCode: reply.exitCode ?? 0 };
    if (result.exitCode !== 0 && !options.allowFailure) {
      throw new CommandError(argv, result.exitCode, result.stderr);
    }
    return result;
  }
}
