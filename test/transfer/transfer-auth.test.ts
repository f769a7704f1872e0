import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/index.ts';
import { parseJobKey } from '../../src/signing/job-key.ts';
import {
  archiveMac,
  checkArchiveMac,
  checkTransferAuthorization,
  MAX_CLOCK_SKEW_MS,
  transferAuthorization,
} from '../../src/transfer/transfer-auth.ts';

const KEY = parseJobKey(randomBytes(32));
const OTHER = parseJobKey(randomBytes(32));
const PATH = '/v1/snapshots/snap-1';

describe('snapshot transfer authorization', () => {
  it('accepts a header made with the key for this method and path, now', () => {
    const now = Date.now();
    const header = transferAuthorization(KEY, 'GET', PATH, now);
    expect(() => checkTransferAuthorization(KEY, 'GET', PATH, header, now + 1000)).not.toThrow();
  });

  it('refuses a missing header, another key, another path or method, and a stale time, with E_UNSIGNED', () => {
    const now = Date.now();
    const header = transferAuthorization(KEY, 'GET', PATH, now);
    const refusals = {
      missing: () => checkTransferAuthorization(KEY, 'GET', PATH, undefined, now),
      otherKey: () => checkTransferAuthorization(OTHER, 'GET', PATH, header, now),
      otherPath: () => checkTransferAuthorization(KEY, 'GET', '/v1/snapshots/snap-2', header, now),
      otherMethod: () => checkTransferAuthorization(KEY, 'PUT', PATH, header, now),
      stale: () => checkTransferAuthorization(KEY, 'GET', PATH, header, now + MAX_CLOCK_SKEW_MS + 1),
    };
    for (const [name, check] of Object.entries(refusals)) {
      expect(check, name).toThrow(expect.objectContaining({ code: ErrorCode.Unsigned }));
    }
    expect(refusals.otherKey).toThrow(
      new RegExp(`signed with key ${KEY.keyId}; this host's is ${OTHER.keyId}`),
    );
  });

  it('an archive MAC holds only for its key, snapshot id and digest; anything else is E_TRANSFER', () => {
    const digest = randomBytes(32);
    const mac = archiveMac(KEY, 'snap-1', digest);
    expect(() => checkArchiveMac(KEY, 'snap-1', digest, mac)).not.toThrow();
    const refusals = {
      none: () => checkArchiveMac(KEY, 'snap-1', digest, undefined),
      otherKey: () => checkArchiveMac(OTHER, 'snap-1', digest, mac),
      otherSnapshot: () => checkArchiveMac(KEY, 'snap-2', digest, mac),
      otherDigest: () => checkArchiveMac(KEY, 'snap-1', randomBytes(32), mac),
    };
    for (const [name, check] of Object.entries(refusals)) {
      expect(check, name).toThrow(expect.objectContaining({ code: ErrorCode.Transfer }));
    }
    expect(refusals.none).toThrow(/no MAC/);
  });
});
