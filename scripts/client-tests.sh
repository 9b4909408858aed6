#!/usr/bin/env bash
# The client suites: web3.py, viem, the JSON-RPC conformance check against the Ethereum
# specification's schemas, and the portal in Chromium, each run against a `btcr dev` node
# it starts.
# Python packages come pinned from tests/clients/python/requirements.txt into a virtual
# environment at $BTCR_VENV (default ~/.cache/btcr/venv); npm packages from
# tests/clients/js/package-lock.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${BTCR_VENV:-$HOME/.cache/btcr/venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/clients/python/requirements.txt

# The specification the conformance suite checks against: tests/conformance/ (BTCR_OPENRPC
# names another copy).
export BTCR_OPENRPC="${BTCR_OPENRPC:-$PWD/tests/conformance/ethereum-execution-apis-openrpc.json}"
if [ ! -f "$BTCR_OPENRPC" ]; then
  echo "the Ethereum JSON-RPC specification was not found at $BTCR_OPENRPC" >&2
  exit 1
fi

# The whole workspace, as the tests build it, so that no dependency is rebuilt with other
# features.
cargo build --workspace --locked --bins
"$venv/bin/pytest" -q tests/clients/python

# viem, pinned by tests/clients/js/package-lock.json.
npm ci --prefix tests/clients/js --no-audit --no-fund --loglevel=error
npm test --prefix tests/clients/js

# The portal end to end in Chromium (Debian's), driven by playwright-core; screenshots of
# every page land in web/e2e/screenshots/.
chromium="${BTCR_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ] && [ -z "${BTCR_CHROMIUM:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Chromium from Debian's packages for the portal's end-to-end tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi
if [ ! -x "$chromium" ]; then
  echo "Chromium is needed for the portal's end-to-end tests: apt-get install chromium (or set BTCR_CHROMIUM)" >&2
  exit 1
fi
npm ci --prefix web --no-audit --no-fund --loglevel=error
npm run e2e --prefix web
