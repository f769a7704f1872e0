// The guest kernel's second source: <codename>-backports of the machine's own Debian archive
// (bookworm-backports carries a 6.12 cloud kernel with CONFIG_VMGENID, which bookworm's 6.1
// cloud kernel lacks). Read through a private apt configuration under the guest cache, its
// own sources, lists and cache, so the machine's apt setup is never changed.

import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AptOptions, run } from './apt.ts';

/** A Debian archive and the codename of the machine's release in it. */
export interface DebianArchive {
  uri: string;
  codename: string;
}

/** Debian's archive key ring (debian-archive-keyring, on every Debian machine). */
const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/**
 * The archive the machine's release comes from, read from `apt-cache policy`: the list of
 * Origin and Label Debian, component main, whose codename has no suffix (not -updates or
 * -security). Undefined when the machine's lists name none (not Debian, or no lists yet).
 */
export function debianArchiveOf(policy: string): DebianArchive | undefined {
  const lines = policy.split('\n');
  for (const [index, line] of lines.entries()) {
    const source = /^\s*-?\d+\s+(\S+)\s+[^/\s]+\/main\s+\S+\s+Packages$/.exec(line);
    const release = /^\s+release\s+(\S+)$/.exec(lines[index + 1] ?? '');
    if (source?.[1] === undefined || release?.[1] === undefined) continue;
    const fields = new Map(
      release[1]
        .split(',')
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    );
    const codename = fields.get('n');
    if (fields.get('o') === 'Debian' && fields.get('l') === 'Debian' && /^[a-z]+$/.test(codename ?? '')) {
      return { uri: source[1], codename: codename! };
    }
  }
  return undefined;
}

/** The machine's Debian archive (see debianArchiveOf). */
export async function machineDebianArchive(): Promise<DebianArchive | undefined> {
  return debianArchiveOf(await run('apt-cache', ['policy']));
}

/** The `-o` options of the private apt configuration rooted at `dir`. */
export function backportsAptOptions(dir: string): AptOptions {
  return [
    ...['-o', 'Dir::Etc::SourceList=/dev/null'],
    ...['-o', `Dir::Etc::SourceParts=${join(dir, 'sources.list.d')}`],
    ...['-o', `Dir::State::Lists=${join(dir, 'lists')}`],
    ...['-o', `Dir::Cache=${join(dir, 'cache')}`],
    // The directories are root's: apt's unprivileged _apt user need not reach them.
    ...['-o', 'APT::Sandbox::User=root'],
  ];
}

/**
 * Makes the private configuration in `dir` name `<archive> <codename>-backports main` and
 * returns that suite. A changed source drops the old lists, so they are fetched anew.
 */
export async function writeBackportsSource(dir: string, archive: DebianArchive): Promise<string> {
  const suite = `${archive.codename}-backports`;
  const text = [
    'Types: deb',
    `URIs: ${archive.uri}`,
    `Suites: ${suite}`,
    'Components: main',
    `Signed-By: ${DEBIAN_KEYRING}`,
    '',
  ].join('\n');
  const sources = join(dir, 'sources.list.d', 'backports.sources');
  if ((await readFile(sources, 'utf8').catch(() => undefined)) !== text) {
    await rm(join(dir, 'lists'), { recursive: true, force: true });
    await mkdir(join(dir, 'sources.list.d'), { recursive: true });
    await writeFile(sources, text);
  }
  await Promise.all(
    [join(dir, 'lists', 'partial'), join(dir, 'cache', 'archives', 'partial')].map((path) =>
      mkdir(path, { recursive: true }),
    ),
  );
  return suite;
}

/** Whether the private configuration has fetched its lists at least once. */
export async function hasBackportsLists(dir: string): Promise<boolean> {
  const names = await readdir(join(dir, 'lists')).catch(() => []);
  return names.some((name) => name.endsWith('_Packages') || name.includes('_Packages.'));
}
