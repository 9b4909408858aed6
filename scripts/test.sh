#!/usr/bin/env bash
# Runs every test: the workspace's unit, property, integration and multi-process tests, then
# the suites written against real Ethereum client libraries (scripts/client-tests.sh).
# Uses cargo-nextest when installed (parallel, per-test processes), cargo test otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# PostgreSQL, which the accounts tests start on their own ports (installed when missing).
scripts/services.sh
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi
scripts/client-tests.sh
