import { describe, expect, it } from 'vitest';
import { debianArchiveOf } from '../../scripts/guest/backports.ts';
import { vmgenidSupport } from '../../scripts/guest/kernel-config.ts';

// `apt-cache policy` as this machine prints it (host names replaced).
const POLICY = `Package files:
 100 /var/lib/dpkg/status
     release a=now
 500 https://packages.example/apt cloud-sdk-bookworm/main amd64 Packages
     release o=Example,n=cloud-sdk-bookworm,l=Example,c=main,b=amd64
     origin packages.example
 500 http://mirror.example/debian-security bookworm-security/main amd64 Packages
     release v=12,o=Debian,a=oldstable-security,n=bookworm-security,l=Debian-Security,c=main,b=amd64
     origin mirror.example
 500 http://mirror.example/debian bookworm-updates/main amd64 Packages
     release v=12-updates,o=Debian,a=oldstable-updates,n=bookworm-updates,l=Debian,c=main,b=amd64
     origin mirror.example
 500 http://mirror.example/debian bookworm/main amd64 Packages
     release v=12.15,o=Debian,a=oldstable,n=bookworm,l=Debian,c=main,b=amd64
     origin mirror.example
Pinned packages:
`;

describe('guest package sources', () => {
  it("finds the machine's Debian archive and release codename (not -updates, -security or another origin)", () => {
    expect(debianArchiveOf(POLICY)).toEqual({ uri: 'http://mirror.example/debian', codename: 'bookworm' });
  });

  it('finds none where the lists name no Debian release', () => {
    expect(
      debianArchiveOf('Package files:\n 100 /var/lib/dpkg/status\n     release a=now\n'),
    ).toBeUndefined();
  });

  it("reads CONFIG_VMGENID from a kernel's config (6.1 cloud: VIRT_DRIVERS off, so no line at all)", () => {
    expect(vmgenidSupport('CONFIG_VIRT_DRIVERS=y\nCONFIG_VMGENID=y\n')).toBe('built-in');
    expect(vmgenidSupport('CONFIG_VMGENID=m\n')).toBe('module');
    expect(vmgenidSupport('# CONFIG_VIRT_DRIVERS is not set\n')).toBe('absent');
    expect(vmgenidSupport('# CONFIG_VMGENID is not set\n')).toBe('absent');
  });
});
