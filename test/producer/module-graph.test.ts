import { describe, expect, it } from 'vitest';
import { heavyModules, loadedModules, packagesOf } from '../support/module-graph.ts';

// The source entry stands for the built one: the build compiles file by file (no bundling),
// keeps every value import as written (verbatimModuleSyntax) and only renames `.ts` to `.js`,
// so both load the same graph. The consumer test checks the built entry, installed from the
// packed tarball, under Node 22 and 24 with the same recorder.
const entry = (path: string) => new URL(`../../${path}`, import.meta.url).href;

describe('the producer entry is a light client', () => {
  it('loads no worker, VMM, network, disk, dashboard or CLI module, and none of their dependencies', async () => {
    const loaded = await loadedModules(entry('src/producer/index.ts'));
    expect(heavyModules(loaded)).toEqual([]);
    // The recorder saw the client's own dependencies, so an empty list above means something.
    expect(packagesOf(loaded)).toEqual(expect.arrayContaining(['bullmq', 'ioredis', 'zod']));
  });

  it('the recorder does catch heavy modules: the worker entry loads them', async () => {
    const heavy = heavyModules(await loadedModules(entry('src/workers/index.ts')));
    expect(heavy.some((url) => url.includes('/src/vmm/'))).toBe(true);
    expect(heavy.some((url) => url.includes('/node_modules/execa/'))).toBe(true);
  });
});
