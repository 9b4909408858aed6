#!/usr/bin/env bash
# Builds the portal (web/) into web/dist, which the btcr binary embeds, and runs its unit
# tests. The pinned toolchain comes from web/package-lock.json (npm ci). web/dist is
# checked in, so building the node needs no Node.js; rerun this and commit web/dist after
# changing anything under web/. Runnable from any directory.
#
# web/openapi.json is the node's OpenAPI document, byte for byte what `GET
# /api/v1/openapi.json` serves (the Rust side checks that it stays so). The portal's API
# types, web/src/lib/api.gen.ts, are generated from it (`npm run gen:api`) and checked in
# too; this script regenerates them first, so the tests and the build see the document's
# types, and fails at the end when the result differs from what git has, so that a changed
# document with stale types cannot pass CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../web"
command -v npm >/dev/null 2>&1 || { echo "error: npm (Node.js 20.19 or newer) is required" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
npm run --silent gen:api
npm test
npm run build

generated=src/lib/api.gen.ts
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Against the index: a regenerated file that is staged (git add) passes, as in CI's
  # clean checkout, where the index is the commit.
  if ! git ls-files --error-unmatch -- "$generated" >/dev/null 2>&1 || ! git diff --quiet -- "$generated"; then
    git --no-pager diff --stat -- "$generated" >&2 || true
    echo "error: web/$generated is not what web/openapi.json generates (or is not in git)." >&2
    echo "  Run 'cd web && npm run gen:api' and commit web/$generated with web/openapi.json." >&2
    exit 1
  fi
else
  echo "note: not a git checkout, so web/$generated is not compared with a commit" >&2
fi
