/**
 * One command a step runs: an `ip` subcommand (batched with its neighbours, on the host or
 * inside the slot's namespace) or a whole argv run on its own, optionally fed `input`, with
 * failures whose stderr matches `tolerate` counted as success.
 */
export type StepCommand =
  | { ip: string[]; inNetns: boolean }
  | { argv: [string, ...string[]]; input?: string; tolerate?: RegExp };
