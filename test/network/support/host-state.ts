import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

/** What the host's network looks like, as text lines, for before/after comparisons. */
export interface HostSnapshot {
  netns: string[];
  links: string[];
  routes: string[];
  nft: string[];
}

// Objects named after another hangar-like prefix belong to test files running in parallel.
const FOREIGN = /\b([a-z][a-z0-9]{0,5})-(ns-\d+|veth-\d+|peer|nat)\b/g;
const PREFIX_LIKE = /^[a-z][a-z0-9]{0,5}$/;

/** Runs a read-only command, retrying when a concurrent namespace change interrupts the dump. */
async function read(file: string, args: string[]): Promise<string> {
  for (let attempt = 0; ; attempt += 1) {
    const result = await execa(file, args, { reject: false });
    if (result.exitCode === 0 && !String(result.stderr).includes('interrupted')) return String(result.stdout);
    if (attempt >= 5) throw new Error(`${file} ${args.join(' ')}: ${String(result.stderr)}`);
    await sleep(50);
  }
}

function keepLine(line: string, prefix: string): boolean {
  for (const match of line.matchAll(FOREIGN)) {
    if (match[1] !== prefix) return false;
  }
  return line.trim() !== '';
}

/** Top-level `table ... { ... }` blocks of `nft list ruleset`, minus other prefixes' tables. */
function nftBlocks(ruleset: string, prefix: string): string[] {
  const blocks: string[] = [];
  let current: string[] = [];
  for (const line of ruleset.split('\n')) {
    if (line.trim() === '' && current.length === 0) continue;
    current.push(line);
    if (line === '}') {
      blocks.push(current.join('\n'));
      current = [];
    }
  }
  return blocks.filter((block) => {
    const name = /^table \S+ (\S+) \{/.exec(block)?.[1] ?? '';
    return name === prefix || !PREFIX_LIKE.test(name);
  });
}

/**
 * The host's namespaces, links, routes and nft ruleset, leaving out objects of other
 * prefixes (parallel test files) and netns ids (assigned on demand by the kernel).
 */
export async function snapshotHost(prefix: string): Promise<HostSnapshot> {
  const [netns, links, routes, nft] = await Promise.all([
    read('ip', ['netns', 'list']),
    read('ip', ['-o', 'link']),
    read('ip', ['route']),
    read('nft', ['list', 'ruleset']),
  ]);
  const lines = (text: string): string[] =>
    text
      .split('\n')
      .map((line) => line.replace(/ \(id: \d+\)/, '').replace(/ link-netnsid \d+/, ''))
      .filter((line) => keepLine(line, prefix));
  return { netns: lines(netns), links: lines(links), routes: lines(routes), nft: nftBlocks(nft, prefix) };
}
