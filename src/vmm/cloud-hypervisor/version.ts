import { ErrorCode, HangarError } from '../../errors/index.ts';
import { type CommandRunner, defaultRunner } from '../../exec/command-runner.ts';

/** A Cloud Hypervisor version; `raw` is the version as printed (v53.0-246-gabcdef). */
export interface ChVersion {
  major: number;
  minor: number;
  patch: number;
  raw: string;
}

/** The oldest CH hangar drives: restore's memory_restore_mode and resume appeared in v52. */
export const MIN_CH_VERSION = { major: 52, minor: 0, patch: 0 } as const;

/** The VMM binary is missing a feature hangar needs, or its version cannot be told. */
export class VmmVersionError extends HangarError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.VmmVersion, message, { details });
  }
}

// "cloud-hypervisor v52.0.0", "cloud-hypervisor v53.0-246-gabcdef", "v53.0.0-hangar-sim".
const VERSION_PATTERN = /(?:^|\s)(v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.+-]*)?)(?=\s|$)/;

/** Reads the version out of `--version` output; VmmVersionError when there is none. */
export function parseChVersion(output: string): ChVersion {
  const match = VERSION_PATTERN.exec(output.trim());
  if (match === null) {
    throw new VmmVersionError(
      `cannot tell the Cloud Hypervisor version from: ${JSON.stringify(output.trim())}`,
      {
        output,
      },
    );
  }
  const [, raw = '', major = '0', minor = '0', patch = '0'] = match;
  return { major: Number(major), minor: Number(minor), patch: Number(patch), raw };
}

/** Runs `<binary> --version` and parses what it prints. */
export async function detectChVersion(
  binary: string[],
  runner: CommandRunner = defaultRunner,
): Promise<ChVersion> {
  const [file, ...args] = binary;
  if (file === undefined) throw new VmmVersionError('no Cloud Hypervisor binary given');
  const { stdout, stderr } = await runner.run(file, [...args, '--version'], { timeoutMs: 10_000 });
  return parseChVersion(stdout.trim().length > 0 ? stdout : stderr);
}

function compare(a: { major: number; minor: number; patch: number }, b: typeof a): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** Throws VmmVersionError, naming both versions, when `version` is older than MIN_CH_VERSION. */
export function assertSupportedChVersion(version: ChVersion): void {
  if (compare(version, MIN_CH_VERSION) < 0) {
    const required = `v${MIN_CH_VERSION.major}.${MIN_CH_VERSION.minor}`;
    throw new VmmVersionError(
      `Cloud Hypervisor ${version.raw} is too old: hangar needs ${required} or newer ` +
        '(restore with memory_restore_mode and resume)',
      { found: version.raw, required },
    );
  }
}
