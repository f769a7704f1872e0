import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { pingRedis } from '../../src/cli/commands/redis-ping.ts';
import { ErrorCode, HangarError } from '../../src/errors/index.ts';
import { parseNetworkConfig, removeHostNetwork, sweepNetwork } from '../../src/network/index.ts';
import { connectRedis, whenReady } from '../../src/redis/connections.ts';
import { readRedisTls } from '../../src/redis/redis-tls.ts';
import { waitForOutput } from '../support/child-output.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';
import { startTlsRedis, type TlsRedis } from '../support/tls-redis.ts';

const HANGAR = fileURLToPath(new URL('../../bin/hangar.ts', import.meta.url));
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const JOB_KEY = randomBytes(32).toString('hex');
const keyPrefix = `hangar-test-${randomBytes(4).toString('hex')}`;
const network = { prefix: 'hgtl0', vethRange: '10.138.0.0/16', hostRange: '10.139.0.0/16', maxSlots: 20 };

describe('Redis over TLS with client certificates, and passwords never shown [CH simulator stand-in]', () => {
  let redis: TlsRedis;
  let dir: TempDir;
  const children: ResultPromise[] = [];
  /** Everything the processes printed, stdout and stderr, to search for the password. */
  const printed: string[] = [];

  // Only what the test gives: no REDIS_URL or HANGAR_* of the machine's may leak in.
  const hangar = (args: string[], env: Record<string, string> = {}) => {
    const child = execa('node', [HANGAR, ...args], {
      reject: false,
      extendEnv: false,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin:/usr/sbin:/sbin', HANGAR_LOG_LEVEL: 'debug', ...env },
    });
    children.push(child);
    child.stdout?.on('data', (chunk: Buffer) => printed.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => printed.push(chunk.toString()));
    return child;
  };

  const tlsFlags = () => [
    '--redis-tls-ca',
    redis.files.ca,
    '--redis-tls-cert',
    redis.files.clientCert,
    '--redis-tls-key',
    redis.files.clientKey,
  ];
  const fleetFlags = () => ['--redis', redis.url, ...tlsFlags(), '--prefix', keyPrefix];

  beforeAll(async () => {
    redis = await startTlsRedis(PASSWORD);
    dir = await makeTempDir('hangar-tls-');
  }, 60_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.allSettled(children);
    const config = parseNetworkConfig(network);
    await sweepNetwork(config, new Set()).catch(() => undefined);
    await removeHostNetwork(config).catch(() => undefined);
    await redis?.stop();
    await dir?.remove();
  }, 60_000);

  it('refuses a client without a certificate, and a plain redis:// connection, at the TLS port', async () => {
    const caOnly = await readRedisTls({ ca: redis.files.ca });
    const error = (await pingRedis(redis.url, 2_000, caOnly).catch(
      (caught: unknown) => caught,
    )) as HangarError;
    expect(error).toBeInstanceOf(HangarError);
    expect(error.code).toBe(ErrorCode.Timeout);
    expect(error.message).toMatch(
      new RegExp(`^Redis at rediss://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port} did not answer`),
    );
    expect(error.message).not.toContain(PASSWORD);
    // The server drops the handshake of a client with no certificate (TLS 1.3 shows it as a reset).
    expect(error.message).toMatch(/ECONNRESET|certificate|handshake|socket/i);
    // And the client checks the server: without the CA, its certificate is not trusted.
    const noCa = await readRedisTls({ cert: redis.files.clientCert, key: redis.files.clientKey });
    await expect(pingRedis(redis.url, 2_000, noCa)).rejects.toThrow(
      /self-signed certificate in certificate chain/,
    );
    const connection = connectRedis(redis.url, 'producer', { tls: caOnly! });
    await expect(whenReady(connection)).rejects.toThrow();
    connection.disconnect();

    const plain = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`;
    const refused = (await pingRedis(plain, 2_000).catch((caught: unknown) => caught)) as HangarError;
    expect(refused.code).toBe(ErrorCode.Timeout);
    expect(refused.message).not.toContain(PASSWORD);
    // TLS files with a redis:// URL are a mistake, said before connecting.
    expect(() => connectRedis(plain, 'producer', { tls: caOnly! })).toThrow(
      /is not rediss:\/\/: use rediss:\/\/ for TLS/,
    );
  });

  it('runs a worker from a config file (rediss:// with CA, cert and key) and a create and destroy from the CLI', async () => {
    const jobKeyFile = join(dir.path, 'job-key');
    await writeFile(jobKeyFile, JOB_KEY, { mode: 0o600 });
    const configFile = join(dir.path, 'worker.yaml');
    await writeFile(
      configFile,
      stringify({
        hostId: 'tl1',
        redisUrl: redis.url,
        redisTls: { ca: redis.files.ca, cert: redis.files.clientCert, key: redis.files.clientKey },
        keyPrefix,
        jobKeyFile,
        stateDir: join(dir.path, 'state'),
        vmm: 'simulator',
        disk: 'file',
        poolSize: 1,
        heartbeatMs: 500,
        network,
      }),
      { mode: 0o600 },
    );
    const worker = hangar(['worker', '--config', configFile]);
    const started = await waitForOutput(worker, /worker tl1 consuming/);
    expect(started).toContain(
      `worker tl1 consuming host-tl1 on rediss://:***@127.0.0.1:${redis.port} (concurrency 8, prefix ${keyPrefix}, jobs signed with key`,
    );

    const created = await hangar(
      [
        'create',
        '--template',
        'base',
        '--vcpus',
        '1',
        '--memory',
        '128',
        '--wait',
        '--json',
        ...fleetFlags(),
      ],
      { HANGAR_JOB_KEY: JOB_KEY },
    );
    expect(created.exitCode, String(created.stderr)).toBe(0);
    const { result } = JSON.parse(String(created.stdout)) as { result: { sandboxId: string; state: string } };
    expect(result.state).toBe('running');

    // The dashboard over the same TLS connection settings.
    const dashboard = hangar(['dashboard', '--port', '0', '--json', ...fleetFlags()]);
    const { url } = JSON.parse((await waitForOutput(dashboard, /\}\n/)).trim()) as { url: string };
    const fleet = (await (await fetch(url.replace(/\/admin\/queues$/, '/api/fleet'))).json()) as {
      hosts: { hostId: string }[];
    };
    expect(fleet.hosts.map((host) => host.hostId)).toContain('tl1');
    dashboard.kill('SIGTERM');
    expect((await dashboard).exitCode).toBe(0);

    const destroyed = await hangar(['destroy', result.sandboxId, '--wait', '--json', ...fleetFlags()], {
      HANGAR_JOB_KEY: JOB_KEY,
    });
    expect(destroyed.exitCode, String(destroyed.stderr)).toBe(0);
    expect(JSON.parse(String(destroyed.stdout))).toMatchObject({ result: { state: 'destroyed' } });

    worker.kill('SIGTERM');
    expect((await worker).exitCode).toBe(0);
  }, 90_000);

  it('never prints the password: not in the worker’s debug logs, the CLI’s output or its errors', async () => {
    // A wrong password, an unreachable server, a URL that does not parse, TLS files with redis://.
    const wrong = await hangar([
      'ls',
      '--redis',
      `rediss://:wrong-${PASSWORD}@127.0.0.1:${redis.port}`,
      ...tlsFlags(),
    ]);
    expect(wrong.exitCode).toBe(1);
    expect(String(wrong.stderr)).toMatch(
      new RegExp(
        `^hangar: E_TIMEOUT: Redis at rediss://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port} did not answer: WRONGPASS`,
        'm',
      ),
    );
    const unreachable = await hangar(['ls', '--redis', `redis://user:${PASSWORD}@127.0.0.1:1`]);
    expect(String(unreachable.stderr)).toMatch(
      /^hangar: E_TIMEOUT: Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1 did not answer/m,
    );
    const malformed = await hangar(['ls', '--redis', `redis://:${PASSWORD}@127.0.0.1:99999`]);
    expect(String(malformed.stderr)).toMatch(
      /^hangar: E_VALIDATION: redis url 'redis:\/\/:\*\*\*@127\.0\.0\.1:99999' does not parse/m,
    );
    const mixed = await hangar([
      'ls',
      '--redis',
      `redis://:${PASSWORD}@127.0.0.1:${redis.port}`,
      ...tlsFlags(),
    ]);
    expect(String(mixed.stderr)).toMatch(/is not rediss:\/\/: use rediss:\/\/ for TLS/);

    const everything = printed.join('');
    // The worker logged at debug level, the CLI printed results and errors: none holds the password.
    expect(everything).toContain('"msg":"worker started"');
    expect(everything).toContain('rediss://:***@');
    expect(everything).not.toContain(PASSWORD);
  });
});
