import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, HangarError } from '../../src/errors/index.ts';
import { canonicalJson } from '../../src/signing/canonical-json.ts';
import { parseJobKey } from '../../src/signing/job-key.ts';
import { readJobKeyFile, resolveJobKey } from '../../src/signing/job-key-file.ts';
import { checkJobSignature, type SignedPlace, signJobData } from '../../src/signing/job-signature.ts';
import { makeTempDir, type TempDir } from '../support/temp-dir.ts';

const HEX_KEY = 'a1'.repeat(32);
const OTHER_KEY = 'b2'.repeat(32);
const place: SignedPlace = {
  queue: 'hangar:{host:h1}:host-h1',
  jobId: 'pause-sb-1-2-abcd1234',
  name: 'pause',
};
const data = {
  payload: { op: 'pause', sandboxId: 'sb-1' },
  seq: 2,
  requestedAt: '2026-01-01T00:00:00.000Z',
  replyTo: 'client1',
};

/** What a worker reads back: the data after a trip through Redis (JSON). */
const stored = (value: unknown) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>;

function refusal(run: () => void): HangarError {
  try {
    run();
  } catch (error) {
    if (error instanceof HangarError) return error;
    throw error;
  }
  throw new Error('expected the check to refuse');
}

describe('canonical JSON', () => {
  it('sorts keys at every depth, keeps array order, drops undefined, adds no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' }, u: undefined })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(canonicalJson([undefined, 'é\n"'])).toBe('[null,"é\\n\\""]');
  });
});

describe('job signatures (HMAC-SHA-256 over data, name, id and queue)', () => {
  const key = parseJobKey(HEX_KEY);

  it('verifies its own signature after the data went through JSON, whatever the key order', () => {
    const signed = signJobData(key, place, data);
    expect(signed.sig).toEqual({
      alg: 'hmac-sha256',
      keyId: key.keyId,
      mac: expect.stringMatching(/^[\w-]{43}$/),
    });
    const reordered = Object.fromEntries(Object.entries(stored(signed)).reverse());
    expect(() => checkJobSignature(key, place, reordered)).not.toThrow();
  });

  it('refuses an unsigned job with E_UNSIGNED, a permanent code, naming the job and the key id', () => {
    const error = refusal(() => checkJobSignature(key, place, stored(data)));
    expect(error.code).toBe(ErrorCode.Unsigned);
    expect(error.message).toMatch(/job pause-sb-1-2-abcd1234 \(pause\) is not signed/);
    expect(error.message).toContain(key.keyId);
  });

  it('refuses the signed data under another id, name or queue, or with any field changed', () => {
    const signed = stored(signJobData(key, place, data));
    const moved: SignedPlace[] = [
      { ...place, jobId: 'pause-sb-1-3-abcd1234' },
      { ...place, name: 'resume' },
      { ...place, queue: 'hangar:{host:h2}:host-h2' },
      { ...place, queue: 'other:{host:h1}:host-h1' },
    ];
    for (const where of moved) {
      expect(refusal(() => checkJobSignature(key, where, signed)).message, JSON.stringify(where)).toMatch(
        /signature does not match/,
      );
    }
    const tampered = { ...signed, payload: { op: 'pause', sandboxId: 'sb-2' } };
    expect(refusal(() => checkJobSignature(key, place, tampered)).code).toBe(ErrorCode.Unsigned);
    const extra = { ...signed, idempotencyKey: 'added' };
    expect(refusal(() => checkJobSignature(key, place, extra)).code).toBe(ErrorCode.Unsigned);
  });

  it('says when a job was signed with another key, and refuses a forged key id or a malformed signature', () => {
    const other = parseJobKey(OTHER_KEY);
    const signed = stored(signJobData(other, place, data));
    expect(refusal(() => checkJobSignature(key, place, signed)).message).toBe(
      `job pause-sb-1-2-abcd1234 (pause) is signed with another job key (id ${other.keyId}; this worker's is ${key.keyId})`,
    );
    const relabelled = { ...signed, sig: { ...(signed.sig as object), keyId: key.keyId } };
    expect(refusal(() => checkJobSignature(key, place, relabelled)).message).toMatch(/does not match/);
    const malformed = { ...signed, sig: { alg: 'hmac-sha256', mac: 'short' } };
    expect(refusal(() => checkJobSignature(key, place, malformed)).message).toMatch(/malformed signature/);
    expect(refusal(() => checkJobSignature(key, place, 'not an object')).code).toBe(ErrorCode.Unsigned);
  });
});

describe('job keys', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir('hangar-job-key-');
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it('reads hex and base64 (standard and URL-safe) of at least 32 bytes, and the same key has the same id', () => {
    const bytes = Buffer.from(HEX_KEY, 'hex');
    const hex = parseJobKey(HEX_KEY);
    expect(hex.bytes).toEqual(bytes);
    expect(parseJobKey(bytes.toString('base64')).keyId).toBe(hex.keyId);
    expect(parseJobKey(` ${bytes.toString('base64url')}\n`).keyId).toBe(hex.keyId);
    expect(parseJobKey(bytes).keyId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('refuses a short or garbled key with E_VALIDATION naming its source, never quoting it', () => {
    const short = refusal(() => parseJobKey('abcd'.repeat(8), 'HANGAR_JOB_KEY'));
    expect(short.code).toBe(ErrorCode.Validation);
    expect(short.message).toBe(
      'HANGAR_JOB_KEY is 16 bytes; a job key needs at least 32 (make one with: openssl rand -hex 32)',
    );
    const garbled = refusal(() => parseJobKey('not a key!', 'HANGAR_JOB_KEY'));
    expect(garbled.message).toMatch(/^HANGAR_JOB_KEY is neither hex nor base64/);
    expect(garbled.message).not.toContain('not a key');
  });

  it('reads a key file of mode 0600 or 0400, and refuses one group or others may read', async () => {
    const path = join(dir.path, 'job-key');
    await writeFile(path, `${HEX_KEY}\n`, { mode: 0o600 });
    expect((await readJobKeyFile(path)).keyId).toBe(parseJobKey(HEX_KEY).keyId);
    await chmod(path, 0o400);
    expect((await readJobKeyFile(path)).keyId).toBe(parseJobKey(HEX_KEY).keyId);
    for (const mode of [0o640, 0o604, 0o660]) {
      await chmod(path, mode);
      const error = await readJobKeyFile(path).catch((caught: HangarError) => caught);
      expect(error).toBeInstanceOf(HangarError);
      expect((error as HangarError).message).toBe(
        `job key file ${path} has mode 0${mode.toString(8)}: group or others may read it; refusing it (chmod 600 ${path})`,
      );
    }
    const missing = await readJobKeyFile(join(dir.path, 'none')).catch((caught: HangarError) => caught);
    expect((missing as HangarError).code).toBe(ErrorCode.Validation);
  });

  it('takes --job-key-file over HANGAR_JOB_KEY over the config file, and none when none is given', async () => {
    const flagFile = join(dir.path, 'flag-key');
    const configFile = join(dir.path, 'config-key');
    await writeFile(flagFile, HEX_KEY, { mode: 0o600 });
    await writeFile(configFile, OTHER_KEY, { mode: 0o600 });
    const envKey = 'c3'.repeat(32);
    const id = (text: string) => parseJobKey(text).keyId;
    expect((await resolveJobKey({ env: { HANGAR_JOB_KEY: envKey }, flagFile, configFile }))?.keyId).toBe(
      id(HEX_KEY),
    );
    expect((await resolveJobKey({ env: { HANGAR_JOB_KEY: envKey }, configFile }))?.keyId).toBe(id(envKey));
    expect((await resolveJobKey({ env: {}, configFile }))?.keyId).toBe(id(OTHER_KEY));
    expect(await resolveJobKey({ env: { HANGAR_JOB_KEY: '' } })).toBeUndefined();
  });
});
