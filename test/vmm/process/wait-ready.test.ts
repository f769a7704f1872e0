import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, TimeoutError } from '../../../src/errors/index.ts';
import { VmmExitedError, waitReady } from '../../../src/vmm/process/index.ts';
import { makeTempDir, type TempDir } from '../../support/temp-dir.ts';
import { ProcessJanitor, shellStandIn } from './stand-in.ts';

describe('waitReady with stand-in processes (sh)', () => {
  let dir: TempDir;
  const janitor = new ProcessJanitor();

  beforeEach(async () => {
    dir = await makeTempDir('hangar-ready-');
  });
  afterEach(async () => {
    janitor.killAll();
    await dir.remove();
  });

  it('returns once the probe answers true, retrying probes that throw', async () => {
    const proc = await janitor.launch(shellStandIn(dir.path));
    let calls = 0;
    await waitReady(
      proc,
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('connection refused');
        return calls >= 3;
      },
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    expect(calls).toBe(3);
  });

  it('fails fast with the log tail when the process exits first', async () => {
    const proc = await janitor.launch(shellStandIn(dir.path, 'echo cannot-open-kvm >&2; exit 7'));
    const started = Date.now();
    const error = await waitReady(proc, async () => false, { timeoutMs: 20_000, intervalMs: 10 }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(VmmExitedError);
    expect(error.code).toBe(ErrorCode.VmmExited);
    expect(error.message).toContain('code 7');
    expect(error.message).toContain('cannot-open-kvm');
    expect(error.details).toMatchObject({ pid: proc.pid, code: 7, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000); // far from the 20 s timeout
  });

  it('fails fast even while a probe hangs', async () => {
    const proc = await janitor.launch(shellStandIn(dir.path, 'sleep 0.3; echo gone; exit 1'));
    const hang = () => new Promise<boolean>(() => {});
    const error = await waitReady(proc, hang, { timeoutMs: 20_000 }).catch((e) => e);
    expect(error).toBeInstanceOf(VmmExitedError);
    expect(error.logTail).toContain('gone');
  });

  it('times out with the log tail while the process runs but never answers', async () => {
    const proc = await janitor.launch(shellStandIn(dir.path, 'echo booting-slowly; sleep 60; :'));
    const error = await waitReady(
      proc,
      async () => {
        throw new Error('ECONNREFUSED');
      },
      { timeoutMs: 400, intervalMs: 20 },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toContain('booting-slowly');
    expect(error.cause).toMatchObject({ message: 'ECONNREFUSED' });
    expect(proc.isAlive()).toBe(true);
  });
});
