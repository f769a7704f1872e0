import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.ts';
import { readWorkerConfigFile } from '../../src/config/worker-config-file.ts';
import {
  defaultHostId,
  resolveWorkerConfig,
  workerConfigFromEnv,
} from '../../src/config/worker-config-sources.ts';
import { ErrorCode, HangarError } from '../../src/errors/index.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

describe('worker config: flags > environment > config file > defaults', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir('hangar-worker-config-');
  });
  afterAll(async () => {
    await dir?.remove();
  });

  const write = async (name: string, text: string) => {
    const path = join(dir.path, name);
    await writeFile(path, text);
    return path;
  };

  it('takes each field from the highest source that sets it, merging objects field by field', async () => {
    const file = await readWorkerConfigFile(
      await write(
        'worker.yaml',
        [
          'hostId: from-file',
          'redisUrl: rediss://redis.internal:6380',
          'redisTls: { ca: /etc/hangar/ca.pem, cert: /etc/hangar/w.pem, key: /etc/hangar/w.key }',
          'concurrency: 4',
          'poolSize: 2',
          'stateDir: /srv/hangar',
          'network: { prefix: hgf, vethRange: 10.50.0.0/16, hostRange: 10.51.0.0/16 }',
          'capacity: { vcpus: 16, memoryMib: 32768 }',
          'jobKeyFile: /etc/hangar/job-key',
        ].join('\n'),
      ),
    );
    const config = resolveWorkerConfig({
      file,
      env: {
        HANGAR_CONCURRENCY: '6',
        HANGAR_POOL_SIZE: '3',
        HANGAR_VCPUS: '12',
        HANGAR_REDIS_TLS_CA: '/env/ca.pem',
      },
      flags: { poolSize: 5, network: { prefix: 'hgx' }, redisTls: { key: '/flag/w.key' } },
    });
    expect(config).toMatchObject({
      hostId: 'from-file',
      redisUrl: 'rediss://redis.internal:6380',
      // flag over env over file, field by field
      redisTls: { ca: '/env/ca.pem', cert: '/etc/hangar/w.pem', key: '/flag/w.key' },
      concurrency: 6,
      poolSize: 5,
      stateDir: '/srv/hangar',
      network: { prefix: 'hgx', vethRange: '10.50.0.0/16', hostRange: '10.51.0.0/16' },
      capacity: { vcpus: 12, memoryMib: 32768 },
      jobKeyFile: '/etc/hangar/job-key',
      // untouched by every source: the schema's default
      keyPrefix: 'hangar',
    });
  });

  it('falls back to the defaults: the hostname, the local Redis, the default capacity', () => {
    const config = resolveWorkerConfig({ env: {} });
    expect(config.hostId).toBe(defaultHostId());
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.capacity).toEqual({ vcpus: 64, memoryMib: 131_072 });
    expect(config.redisTls).toBeUndefined();
    expect(config.jobKeyFile).toBeUndefined();
  });

  it('gives an embedding app the environment with the host id and Redis defaulted (workerConfigFromEnv)', () => {
    expect(workerConfigFromEnv({ HANGAR_VCPUS: '4', HANGAR_NETWORK_PREFIX: 'hge' })).toEqual({
      hostId: defaultHostId(),
      redisUrl: 'redis://127.0.0.1:6379',
      capacity: { vcpus: 4, memoryMib: 131_072 },
      network: { prefix: 'hge' },
    });
  });

  it('reads JSON too, and names the file and each bad field (unknown ones included)', async () => {
    const json = await write('worker.json', JSON.stringify({ concurrency: 2, keyPrefix: 'fleet-a' }));
    expect(resolveWorkerConfig({ file: await readWorkerConfigFile(json), env: {} })).toMatchObject({
      concurrency: 2,
      keyPrefix: 'fleet-a',
    });
    const bad = await write('bad.yaml', 'concurrency: 0\nconcurency: 4\nredisTls: { ca: /x, pem: /y }\n');
    const error = (await readWorkerConfigFile(bad).catch((caught: unknown) => caught)) as HangarError;
    expect(error).toBeInstanceOf(HangarError);
    expect(error.code).toBe(ErrorCode.Validation);
    expect(error.message).toContain(`invalid worker config file ${bad}:`);
    expect(error.message).toMatch(/concurrency: /);
    expect(error.message).toMatch(/\(root\): Unrecognized key: "concurency"/);
    expect(error.message).toMatch(/redisTls: Unrecognized key: "pem"/);
    const missing = (await readWorkerConfigFile(join(dir.path, 'none.yaml')).catch(
      (e: unknown) => e,
    )) as HangarError;
    expect(missing.message).toMatch(/^worker config file .*none\.yaml: ENOENT/);
    const notYaml = (await readWorkerConfigFile(await write('x.yaml', 'a: [1, 2\n')).catch(
      (e: unknown) => e,
    )) as HangarError;
    expect(notYaml.message).toMatch(/is not YAML or JSON/);
  });

  it('says the precedence and the key sources in `hangar worker --help`', () => {
    const worker = buildProgram().commands.find((command) => command.name() === 'worker');
    let help = '';
    worker?.configureOutput({ writeOut: (text) => (help += text) });
    worker?.outputHelp();
    expect(help).toMatch(/--config <file>/);
    expect(help).toMatch(
      /highest first: flags \(and the variables a flag names, such as REDIS_URL\),\s+the HANGAR_\* environment, the --config file, then the defaults/,
    );
    expect(help).toMatch(/--job-key-file <file>/);
    expect(help).toMatch(/--redis-tls-ca <file>[\s\S]*--redis-tls-cert <file>[\s\S]*--redis-tls-key <file>/);
  });
});
