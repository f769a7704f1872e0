import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ValidationError } from '../errors/index.ts';

/**
 * TLS material for a rediss:// connection, as PEM text: the CA that signed the server's
 * certificate (default: Node's built-in roots) and, for a server that asks clients for one
 * (`tls-auth-clients yes`), this client's certificate and key.
 */
export interface RedisTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** The same as files: what `--redis-tls-ca`/`-cert`/`-key` and a worker config's `redisTls` name. */
export const RedisTlsFiles = z
  .object({
    /** PEM file of the CA that signed the Redis server's certificate. */
    ca: z.string().min(1).optional(),
    /** PEM file of this client's certificate (with `key`). */
    cert: z.string().min(1).optional(),
    /** PEM file of this client's private key (with `cert`). */
    key: z.string().min(1).optional(),
  })
  .strict();
export type RedisTlsFiles = z.infer<typeof RedisTlsFiles>;

/** Reads the files named (undefined when none is); a certificate needs its key and the other way round. */
export async function readRedisTls(files: RedisTlsFiles | undefined): Promise<RedisTls | undefined> {
  if (files === undefined) return undefined;
  const { ca, cert, key } = files;
  if (ca === undefined && cert === undefined && key === undefined) return undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new ValidationError(
      'Redis TLS: a client certificate and its key go together (--redis-tls-cert with --redis-tls-key)',
      { field: cert === undefined ? 'redisTls.cert' : 'redisTls.key' },
    );
  }
  const read = async (field: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    return readFile(path).catch((error: unknown) => {
      throw new ValidationError(
        `Redis TLS ${field} file ${path}: ${(error as Error).message}`,
        { field: `redisTls.${field}` },
        error,
      );
    });
  };
  const [caPem, certPem, keyPem] = await Promise.all([read('ca', ca), read('cert', cert), read('key', key)]);
  return {
    ...(caPem === undefined ? {} : { ca: caPem }),
    ...(certPem === undefined ? {} : { cert: certPem }),
    ...(keyPem === undefined ? {} : { key: keyPem }),
  };
}
