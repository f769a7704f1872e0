import { execa } from 'execa';

/** Named network namespaces on the host whose names start with `<prefix>-`. */
export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const { stdout } = await execa('ip', ['-j', 'netns', 'list']);
  const list = stdout.trim() === '' ? [] : (JSON.parse(stdout) as { name: string }[]);
  return list
    .map((entry) => entry.name)
    .filter((name) => name.startsWith(`${prefix}-`))
    .sort();
}

/** Host links whose names start with `<prefix>-`. */
export async function linksWithPrefix(prefix: string): Promise<string[]> {
  const { stdout } = await execa('ip', ['-j', 'link', 'show']);
  const list = stdout.trim() === '' ? [] : (JSON.parse(stdout) as { ifname: string }[]);
  return list
    .map((entry) => entry.ifname)
    .filter((name) => name.startsWith(`${prefix}-`))
    .sort();
}
