import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { HostLedger, type LedgerEntry } from '../../src/state/host-ledger.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

function entry(sandboxId: string, state: LedgerEntry['state'] = 'running'): LedgerEntry {
  return {
    sandboxId,
    state,
    template: 'base',
    vcpus: 1,
    memoryMib: 128,
    labels: {},
    createdAt: new Date().toISOString(),
  };
}

describe('host ledger: a file plus a write-ahead journal, on a real file system', () => {
  let dir: TempDir;
  let path: string;

  beforeEach(async () => {
    dir = await makeTempDir('hangar-ledger-');
    path = join(dir.path, 'ledger.json');
  });

  afterEach(async () => {
    await dir.remove();
  });

  it('keeps every change made at once, in one journal append, and a reopened ledger has them all', async () => {
    const ledger = await HostLedger.open(path);
    await Promise.all(Array.from({ length: 50 }, (_, index) => ledger.put(entry(`sb-${index}`))));
    await Promise.all([
      ledger.remove('sb-0'),
      ledger.addSnapshot('snap-1'),
      ledger.put(entry('sb-1', 'paused')),
    ]);
    await ledger.close();
    const journal = (await readFile(`${path}.journal`, 'utf8')).trim().split('\n');
    expect(journal).toHaveLength(53);
    const again = await HostLedger.open(path);
    expect(again.entries()).toHaveLength(49);
    expect(again.get('sb-0')).toBeUndefined();
    expect(again.get('sb-1')?.state).toBe('paused');
    expect(again.hasSnapshot('snap-1')).toBe(true);
    expect((await HostLedger.read(path)).sandboxes['sb-49']?.state).toBe('running');
    await again.close();
  });

  it('opening writes nothing: a worker refused the state dir changes neither file', async () => {
    const ledger = await HostLedger.open(path);
    await ledger.put(entry('sb-1'));
    const before = await stat(`${path}.journal`);
    const other = await HostLedger.open(path);
    expect(other.get('sb-1')).toBeDefined();
    expect((await stat(`${path}.journal`)).mtimeMs).toBe(before.mtimeMs);
    await expect(stat(path)).rejects.toThrow();
    await other.close();
    await ledger.close();
  });

  it('drops a torn last line (an append that was never acknowledged) and refuses a corrupt one before it', async () => {
    const ledger = await HostLedger.open(path);
    await ledger.put(entry('sb-1'));
    await ledger.close();
    await appendFile(`${path}.journal`, '{"put":{"sandboxId":"sb-2","sta');
    const torn = await HostLedger.open(path);
    expect(torn.entries().map((e) => e.sandboxId)).toEqual(['sb-1']);
    await torn.close();
    await writeFile(`${path}.journal`, `not json\n${JSON.stringify({ put: entry('sb-3') })}\n`);
    await expect(HostLedger.open(path)).rejects.toMatchObject({
      code: ErrorCode.CorruptState,
      message: expect.stringContaining('ledger.json.journal line 1'),
    });
  });

  it('compacts into the ledger file after enough changes, and the journal starts again', async () => {
    const ledger = await HostLedger.open(path);
    for (let index = 0; index < 2_001; index += 1) await ledger.put(entry(`sb-${index % 10}`));
    await ledger.close();
    const file = JSON.parse(await readFile(path, 'utf8'));
    expect(Object.keys(file.sandboxes)).toHaveLength(10);
    expect((await readFile(`${path}.journal`, 'utf8')).trim().split('\n').length).toBeLessThan(10);
    expect((await HostLedger.open(path)).entries()).toHaveLength(10);
  });
});
