#!/usr/bin/env bash
# Compile contracts/src/*.sol into contracts/build/<Name>.json using the
# pinned solc-js from contracts/package-lock.json. Runnable from any cwd.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONTRACTS_DIR="$(cd "${SCRIPT_DIR}/../contracts" && pwd)"

command -v node >/dev/null 2>&1 || { echo "error: node is required" >&2; exit 1; }
command -v npm  >/dev/null 2>&1 || { echo "error: npm is required" >&2; exit 1; }

cd "${CONTRACTS_DIR}"

# (Re)install only when the installed solc is missing or differs from the lockfile pin.
want="$(node -p 'require("./package-lock.json").packages["node_modules/solc"].version')"
have="$(node -p 'require("./node_modules/solc/package.json").version' 2>/dev/null || true)"
if [[ "${have}" != "${want}" ]]; then
  echo "installing solc (npm ci) in ${CONTRACTS_DIR}"
  npm ci --no-audit --no-fund --loglevel=error
fi

node compile.js
