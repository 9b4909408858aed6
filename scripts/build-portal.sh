#!/usr/bin/env bash
# Builds the portal (web/) into web/dist, which the btcr binary embeds, and runs its unit
# tests. The pinned toolchain comes from web/package-lock.json (npm ci). web/dist is
# checked in, so building the node needs no Node.js; rerun this and commit web/dist after
# changing anything under web/. Runnable from any directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../web"
command -v npm >/dev/null 2>&1 || { echo "error: npm (Node.js 20.19 or newer) is required" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
npm test
npm run build
