import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFleet, TEST_REDIS_URL, type TestFleet } from '../support/fleet.ts';
import { heavyModules, loadedModules, packagesOf } from '../support/module-graph.ts';
import { nodeBinary } from '../support/node-binaries.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

// The package as a backend gets it: `npm pack` (its prepack builds dist/), then plain
// `npm install <tarball>` into an app outside the repository, a TypeScript consumer
// typechecked against the shipped .d.ts, and run on Node 22 and Node 24 with type stripping
// off, against a real worker on the CH simulator. Only the tarball's own dependencies come
// from the registry (and the two Node binaries, once, into .tools/).
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./consumer-app/', import.meta.url));
const NODE_MAJORS = [22, 24] as const;

let app: TempDir;
let tarball: string;
let fleet: TestFleet | undefined;
const nodes = new Map<number, string>();

beforeAll(async () => {
  app = await makeTempDir('hangar-consumer-');
  const [, ...binaries] = await Promise.all([
    execa('npm', ['pack', '--loglevel=error', '--pack-destination', app.path], { cwd: REPO }),
    ...NODE_MAJORS.map((major) => nodeBinary(major)),
  ]);
  const { name, version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'));
  tarball = join(app.path, `${name}-${version}.tgz`);
  for (const [index, major] of NODE_MAJORS.entries()) nodes.set(major, binaries[index]!);
  await writeFile(
    join(app.path, 'package.json'),
    JSON.stringify({ name: 'hangar-consumer', private: true, type: 'module' }),
  );
  await writeFile(
    join(app.path, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        // Check the shipped declarations too, and every declaration they reach.
        skipLibCheck: false,
        // The app's own @types/node; the repository's copy saves a registry round trip.
        typeRoots: [join(REPO, 'node_modules', '@types')],
        types: ['node'],
        outDir: 'out',
        rootDir: '.',
      },
      files: ['consumer.ts', 'embed-worker.ts'],
    }),
  );
  for (const file of ['consumer.ts', 'embed-worker.ts'])
    await copyFile(join(FIXTURE, file), join(app.path, file));
  await execa('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: app.path });
}, 240_000);

afterAll(async () => {
  await fleet?.stop();
  await app?.remove();
});

describe('the packed package, installed into an app outside the repository', () => {
  it('holds the build, README and LICENSE, and no sources, tests, benches or scripts', async () => {
    const { stdout } = await execa('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').map((line) => line.replace(/^package\//, ''));
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'dist/src/producer/index.js',
        'dist/src/producer/index.d.ts',
        'dist/src/producer/index.js.map',
        'dist/src/workers/index.js',
        'dist/bin/hangar.js',
        'dist/bin/hangar-ch-sim.js',
      ]),
    );
    const stray = files.filter((file) => !/^(dist\/|package\.json$|README\.md$|LICENSE$)/.test(file));
    expect(stray).toEqual([]);
    expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
  });

  it('typechecks a consumer against the shipped declarations with tsc, and compiles it', async () => {
    const tsc = join(REPO, 'node_modules', '.bin', 'tsc');
    const result = await execa(tsc, ['-p', join(app.path, 'tsconfig.json')], { reject: false });
    expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);
  });

  describe.each(NODE_MAJORS)('on Node %i, type stripping off', (major) => {
    const node = () => nodes.get(major)!;
    const noStripping = '--no-experimental-strip-types';

    it('imports the producer entry without the worker, dashboard or CLI modules', async () => {
      const loaded = await loadedModules('hangar', { node: node(), cwd: app.path, nodeArgs: [noStripping] });
      expect(loaded.some((url) => url.includes('/node_modules/hangar/dist/src/producer/index.js'))).toBe(
        true,
      );
      expect(heavyModules(loaded)).toEqual([]);
      expect(packagesOf(loaded)).toContain('bullmq');
    });

    it('runs the built bins, and the worker finds the built simulator', async () => {
      const help = await execa(node(), [noStripping, 'node_modules/.bin/hangar', '--help'], {
        cwd: app.path,
      });
      expect(help.stdout).toMatch(/Usage: hangar/);
      const sim = await execa(node(), [noStripping, 'node_modules/.bin/hangar-ch-sim', '--version'], {
        cwd: app.path,
      });
      expect(sim.stdout).toMatch(/hangar-sim/);
      const script = `import { simulatorBinary } from 'hangar/vmm'; console.log(simulatorBinary()[1]);`;
      const found = await execa(node(), [noStripping, '--input-type=module', '-e', script], {
        cwd: app.path,
      });
      expect(found.stdout).toBe(join(app.path, 'node_modules/hangar/dist/bin/hangar-ch-sim.js'));
    });

    it('creates, pauses, resumes, snapshots, restores and destroys, and reads the events [CH simulator stand-in]', async () => {
      fleet ??= await startTestFleet({ hosts: ['pk1'], network: { prefix: 'hgpk', octet: 244 } });
      const run = await execa(node(), [noStripping, 'out/consumer.js'], {
        cwd: app.path,
        env: { REDIS_URL: TEST_REDIS_URL, HANGAR_KEY_PREFIX: fleet.keyPrefix },
        timeout: 60_000,
      });
      const seen = JSON.parse(run.stdout) as Record<string, unknown>;
      expect(seen.node).toMatch(new RegExp(`^v${major}\\.`));
      expect(seen.address).toMatch(/^10\.245\./);
      expect(seen.results).toEqual(['running', 'paused', 'running', 'running', 'destroyed']);
      expect(seen.refusal).toBe('E_VALIDATION');
      expect(seen.snapshotBytes).toBeGreaterThan(0);
      expect(seen.states).toEqual([
        'creating',
        'running',
        'paused',
        'running',
        'snapshotting',
        'running',
        'destroying',
        'destroyed',
      ]);
      expect(await fleet.client.list({ labels: { app: 'consumer' } })).toEqual([]);
    }, 90_000);
  });
});
