import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.ts';
import { parseRedisUrl } from '../../src/redis/connections.ts';
import { redact } from '../../src/redis/redact.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { makeTempDir } from '../support/temp-dir.ts';

describe('redact: URL passwords hidden in any text', () => {
  it('hides the password of a URL and keeps the user, host, port and db', () => {
    expect(redact('redis://user:s3cret@host:6379/2')).toBe('redis://user:***@host:6379/2');
    expect(redact('rediss://:s3cret@10.0.0.1:6380')).toBe('rediss://:***@10.0.0.1:6380');
    expect(redact('redis://default:pw@h1:1,h2:2,h3:3')).toBe('redis://default:***@h1:1,h2:2,h3:3');
    expect(redact('redis+cluster://u:pw@h1:7000')).toBe('redis+cluster://u:***@h1:7000');
  });

  it('hides a password holding @, /, : or percent-escapes whole', () => {
    for (const password of ['p@ss@word', 'a/b/c', 'x:y:z', 'p%40ss', 'we!rd#pa$s']) {
      const text = redact(`redis://user:${password}@host:6379`);
      expect(text).toBe('redis://user:***@host:6379');
    }
  });

  it('hides credentials without a colon too (ioredis takes them as a user, a user may have meant a password)', () => {
    expect(redact('redis://s3cret@host:6379')).toBe('redis://***@host:6379');
  });

  it('hides every URL inside a longer text, in JSON and in quotes, and leaves URLs without credentials alone', () => {
    const line = JSON.stringify({
      msg: 'x',
      url: 'redis://u:one@a:1',
      cause: "Redis at 'rediss://:two@b:2' failed",
    });
    expect(redact(line)).toBe(
      JSON.stringify({ msg: 'x', url: 'redis://u:***@a:1', cause: "Redis at 'rediss://:***@b:2' failed" }),
    );
    expect(redact('see http://127.0.0.1:3000/admin/queues and redis://h:1')).toBe(
      'see http://127.0.0.1:3000/admin/queues and redis://h:1',
    );
    expect(redact('no url here: user:pw@host')).toBe('no url here: user:pw@host');
  });

  it('keeps passwords out of the errors a bad URL gets', () => {
    expect(() => parseRedisUrl('redis://u:p@ss@h1:1,h2:2')).toThrow(
      "redis url 'redis://u:***@h1:1,h2:2': its password holds an unencoded '@' (write it as %40)",
    );
    expect(() => parseRedisUrl('redis://u:secret@h1:1,h2')).toThrow(
      "redis url 'redis://u:***@h1:1,h2': cluster seed 'h2' is not host:port",
    );
    expect(() => parseRedisUrl('http://u:secret@h1:1')).toThrow(/^redis url 'http:\/\/u:\*\*\*@h1:1' is not/);
  });

  it('is applied to every line the process logger writes, whatever field or message holds the URL', async () => {
    const dir = await makeTempDir('hangar-redact-log-');
    try {
      const path = join(dir.path, 'log.jsonl');
      const log = createLogger({ level: 'info', destination: path });
      const error = Object.assign(new Error('connect to redis://:p2@h:2 failed'), {
        input: 'rediss://u:p3@h:3',
      });
      log.info({ url: 'redis://u:p1@h:1' }, 'talking to rediss://:p4@h:4');
      log.error({ err: error }, 'failed');
      await new Promise<void>((resolve, reject) =>
        log.flush((failed) => (failed ? reject(failed) : resolve())),
      );
      // The destination opens its file asynchronously: a flush right after the first lines may
      // come before the file exists, so wait for both lines rather than read once.
      const text = await pollUntil(
        'both lines in the log file',
        async () => {
          const written = await readFile(path, 'utf8').catch(() => '');
          const lines = written.split('\n').filter((line) => line !== '');
          return lines.length >= 2 && written.endsWith('\n') ? written : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 20 },
      );
      for (const password of ['p1', 'p2', 'p3', 'p4']) expect(text).not.toContain(`:${password}@`);
      expect(text).toContain('redis://u:***@h:1');
      expect(text).toContain('rediss://u:***@h:3');
    } finally {
      await dir.remove();
    }
  });
});
