import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { pingRedis } from '../../src/cli/commands/redis-ping.ts';
import { freePort } from '../../src/demo/free-port.ts';
import { readRedisTls } from '../../src/redis/redis-tls.ts';
import { pollUntil } from '../../src/util/poll.ts';
import { makeTempDir, type TempDir } from './temp-dir.ts';

/** PEM files of a throwaway CA, a server certificate for 127.0.0.1 and a client certificate. */
export interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A private redis-server speaking only TLS, asking every client for a certificate, with a password. */
export interface TlsRedis {
  /** `rediss://:<password>@127.0.0.1:<port>`. */
  url: string;
  port: number;
  password: string;
  files: TlsFiles;
  dir: TempDir;
  stop(): Promise<void>;
}

const openssl = (args: string[], cwd: string) => execa('openssl', args, { cwd, stdin: 'ignore' });

// EC P-256 keys: quick to make, and what a modern deployment would use.
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes a CA, then a server and a client certificate it signs, with openssl into `dir`. */
export async function makeTlsFiles(dir: string): Promise<TlsFiles> {
  await openssl(
    [
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=hangar test CA',
    ],
    dir,
  );
  const issue = async (name: string, subject: string, extensions: string) => {
    await writeFile(join(dir, `${name}.ext`), extensions);
    await openssl(['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
        '-out',
        `${name}.pem`,
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
  };
  await issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await issue('client', '/CN=hangar-worker', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}

/**
 * Starts `redis-server` with TLS only (no plain port) on a free port, `tls-auth-clients yes`
 * and `requirepass`, its certificates made for the run; resolves once a client with the
 * CA, certificate and key gets PONG.
 */
export async function startTlsRedis(password: string): Promise<TlsRedis> {
  const dir = await makeTempDir('hangar-tls-redis-');
  let child: ResultPromise | undefined;
  try {
    const files = await makeTlsFiles(dir.path);
    const port = await freePort();
    const url = `rediss://:${password}@127.0.0.1:${port}`;
    const started = execa(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--tls-cert-file',
        files.serverCert,
        '--tls-key-file',
        files.serverKey,
        '--tls-ca-cert-file',
        files.ca,
        '--tls-auth-clients',
        'yes',
        '--requirepass',
        password,
        '--dir',
        dir.path,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { reject: false, stdin: 'ignore', stdout: 'ignore' },
    );
    child = started;
    let exited: string | undefined;
    void started.then((result) => {
      exited = `redis-server exited (${result.exitCode ?? result.signal}): ${String(result.stderr)}`;
    });
    const tls = await readRedisTls({ ca: files.ca, cert: files.clientCert, key: files.clientKey });
    await pollUntil(
      `TLS redis-server on port ${port}`,
      async () => {
        if (exited !== undefined) throw new Error(exited);
        return pingRedis(url, 500, tls).then(() => true);
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    const running = started;
    return {
      url,
      port,
      password,
      files,
      dir,
      async stop() {
        running.kill('SIGKILL');
        await running;
        await dir.remove();
      },
    };
  } catch (error) {
    child?.kill('SIGKILL');
    await child;
    await dir.remove();
    throw error;
  }
}
