#!/usr/bin/env bash
# Runs every test of the workspace: unit, property, integration and multi-process tests.
# Uses cargo-nextest when installed (parallel, per-test processes), cargo test otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if cargo nextest --version >/dev/null 2>&1; then
  exec cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  exec cargo test --workspace --locked --no-fail-fast "$@"
fi
