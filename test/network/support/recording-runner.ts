import {
  type CommandResult,
  type CommandRunner,
  defaultRunner,
  type RunOptions,
} from '../../../src/exec/command-runner.ts';

const MUTATING_WORDS = new Set([
  'add',
  'del',
  'delete',
  'replace',
  'set',
  'change',
  'flush',
  'create',
  'insert',
  'append',
  'destroy',
  '-w',
  '-f',
]);

/** Whether an argv changes host state (conservative: any mutating verb or flag anywhere). */
export function isMutating(argv: readonly string[]): boolean {
  return argv.some((word) => MUTATING_WORDS.has(word));
}

/** Runs every command for real and keeps its argv, so a test can count what was changed. */
export class RecordingRunner implements CommandRunner {
  readonly calls: string[][] = [];
  readonly inner: CommandRunner;

  constructor(inner: CommandRunner = defaultRunner) {
    this.inner = inner;
  }

  run(file: string, args: readonly string[], options?: RunOptions): Promise<CommandResult> {
    this.calls.push([file, ...args]);
    return this.inner.run(file, args, options);
  }

  /** The recorded commands that change state. */
  mutating(): string[][] {
    return this.calls.filter(isMutating);
  }
}
