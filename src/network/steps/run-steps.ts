import { CommandError } from '../../errors/index.ts';
import type { CommandRunner } from '../../exec/command-runner.ts';
import { runTolerating } from '../command.ts';
import { NetworkError } from '../network-error.ts';
import type { SlotStep, StepContext } from './slot-steps.ts';
import type { StepCommand } from './step-command.ts';

type IpCommand = Extract<StepCommand, { ip: string[] }>;
type ArgvCommand = Extract<StepCommand, { argv: unknown }>;

/** A planned command and the step it builds. */
interface Queued {
  step: string;
  command: StepCommand;
}

/** A failure blamed on the step(s) whose command failed. */
class StepFailure extends Error {
  readonly step: string;
  constructor(step: string, cause: unknown) {
    super(`step ${step} failed`, { cause });
    this.step = step;
  }
}

async function runArgv(entry: Queued, runner: CommandRunner): Promise<void> {
  const { argv, input, tolerate } = entry.command as ArgvCommand;
  try {
    if (tolerate !== undefined) {
      await runTolerating(runner, argv, { input, tolerate });
    } else {
      await runner.run(argv[0], argv.slice(1), { input });
    }
  } catch (error) {
    throw new StepFailure(entry.step, error);
  }
}

/**
 * Runs `ip` commands aimed at one place; more than one share an `ip -batch -` process, which
 * stops at the first failing line, as a crash there would.
 */
async function runIpGroup(group: Queued[], netns: string | undefined, runner: CommandRunner): Promise<void> {
  const where = netns === undefined ? [] : ['-n', netns];
  const lines = group.map((entry) => (entry.command as IpCommand).ip);
  const [first] = group;
  if (first === undefined) return;
  if (group.length === 1) {
    await runner.run('ip', [...where, ...(lines[0] ?? [])]).catch((error: unknown) => {
      throw new StepFailure(first.step, error);
    });
    return;
  }
  const args = [...where, '-batch', '-'];
  const input = `${lines.map((line) => line.join(' ')).join('\n')}\n`;
  const result = await runner.run('ip', args, { input, allowFailure: true }).catch((error: unknown) => {
    throw new StepFailure(first.step, error);
  });
  if (result.exitCode === 0) return;
  // ip names a line the kernel refused ("Command failed -:3"); a line it could not parse
  // ends the batch unnamed, and then every step of the batch is named.
  const line = /Command failed -:(\d+)/.exec(result.stderr)?.[1];
  const culprits = line === undefined ? group : group.slice(Number(line) - 1, Number(line));
  const shown = culprits.map((entry) => (entry.command as IpCommand).ip.join(' ')).join('; ');
  const step = [...new Set(culprits.map((entry) => entry.step))].join('+');
  throw new StepFailure(
    step,
    new CommandError(['ip', ...args, `<<< ${shown}`], result.exitCode, result.stderr),
  );
}

/** Runs the queued commands in order, grouping neighbouring `ip` commands aimed at one place. */
async function flush(queue: Queued[], { layout }: StepContext, runner: CommandRunner): Promise<void> {
  while (queue.length > 0) {
    const head = queue[0]!;
    if (!('ip' in head.command)) {
      await runArgv(queue.shift()!, runner);
      continue;
    }
    const { inNetns } = head.command;
    const length = queue.findIndex((entry) => !('ip' in entry.command) || entry.command.inNetns !== inNetns);
    const group = queue.splice(0, length === -1 ? queue.length : length);
    await runIpGroup(group, inNetns ? layout.netns : undefined, runner);
  }
}

/**
 * Plans every missing step and runs the commands; returns the names of the steps it built.
 * With `afterStep`, each step's commands run before the hook sees its name, so a throwing
 * hook leaves the host exactly between two steps; without it, neighbouring steps share
 * processes. A failed command throws NetworkError naming its step and slot.
 */
export async function runSlotSteps(
  steps: readonly SlotStep[],
  context: StepContext,
  runner: CommandRunner,
  afterStep?: (step: string) => Promise<void> | void,
): Promise<string[]> {
  const queue: Queued[] = [];
  const built: string[] = [];
  const { slot } = context.layout;
  try {
    for (const step of steps) {
      if (!step.done(context)) {
        built.push(step.name);
        for (const command of step.plan(context)) queue.push({ step: step.name, command });
      }
      if (afterStep !== undefined) {
        await flush(queue, context, runner);
        await afterStep(step.name);
      }
    }
    await flush(queue, context, runner);
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    throw new NetworkError(
      `network slot ${slot}: step ${error.step} failed`,
      { slot, step: error.step },
      error.cause,
    );
  }
  return built;
}
