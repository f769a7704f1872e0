import { execa } from 'execa';

// Runs in a fresh Node: a synchronous resolve hook (module.registerHooks, Node >= 22.15) sees
// every import and every require() the entry causes, ESM and CommonJS alike, then prints the
// resolved URLs as JSON. argv[1] is the specifier to import, resolved from the working directory.
const RECORDER = `
import { registerHooks } from 'node:module';
const loaded = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    loaded.add(resolved.url);
    return resolved;
  },
});
await import(process.argv[1]);
process.stdout.write(JSON.stringify([...loaded]));
process.exit(0);
`;

/** Every module URL a fresh Node process loads to import `specifier` (from `cwd`). */
export async function loadedModules(
  specifier: string,
  options: { node?: string; cwd?: string; nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<string[]> {
  const { stdout } = await execa(
    options.node ?? process.execPath,
    [...(options.nodeArgs ?? []), '--input-type=module', '-e', RECORDER, specifier],
    { cwd: options.cwd, timeout: 30_000, ...(options.env === undefined ? {} : { env: options.env }) },
  );
  return JSON.parse(stdout) as string[];
}

// What the producer entry must never load: the worker's, dashboard's and CLI's dependencies,
// metrics, the OpenTelemetry SDK (loaded only when tracing is on) and hangar's own host-side
// folders (from source, or compiled under dist/src).
const HEAVY_PACKAGE =
  /\/node_modules\/(express|@bull-board\/[^/]+|execa|commander|cli-progress|prom-client|@opentelemetry\/(sdk-[^/]+|exporter-[^/]+|otlp-[^/]+|resources|context-async-hooks|core))\//;
const HOST_FOLDER = /\/src\/(vmm|workers|network|devicemapper|dashboard|cli)\//;

/** The loaded modules a light client must not have pulled in. */
export function heavyModules(urls: readonly string[]): string[] {
  return urls.filter((url) => HEAVY_PACKAGE.test(url) || HOST_FOLDER.test(url));
}

/** The npm packages among loaded module URLs (scoped names kept whole), sorted. */
export function packagesOf(urls: readonly string[]): string[] {
  const names = new Set<string>();
  for (const url of urls) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*\/node_modules\/)/.exec(url);
    if (match?.[1] !== undefined) names.add(match[1]);
  }
  return [...names].sort();
}
