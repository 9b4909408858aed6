#!/usr/bin/env bash
# The load benchmark against BTCR and against anvil, on this machine, one after the other
# with the same parameters. Arguments go to btcr-load (default: 20000 transfers, 32 workers).
#
#   scripts/bench-peers.sh [--transfers N] [--concurrency N] ...
#
# anvil comes pinned from bench/peers/package-lock.json (npm ships Foundry's real binary).
# Both nodes fund the same test-mnemonic accounts and run 1 s blocks with a 1 Ggas limit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(--transfers 20000 --concurrency 32)
fi

echo "== building btcr and btcr-load (release)"
cargo build --release --locked -p btcr -p btcr-testkit --bins
target="${CARGO_TARGET_DIR:-target}"

echo "== installing the peers"
# `npm ci` refuses this package's lock (its per-platform optional packages have no
# version), so install: the version is pinned exactly in package.json.
npm install --prefix bench/peers --no-audit --no-fund --ignore-scripts --loglevel=error
anvil=bench/peers/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== anvil"
port=18545
"$anvil" --block-time 1 --accounts 1000 --balance 1000000 --gas-limit 1000000000 \
  --port "$port" --silent &
anvil_pid=$!
trap 'kill $anvil_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  if curl -s -o /dev/null "http://127.0.0.1:$port" -H 'content-type: application/json' \
      -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}'; then break; fi
  sleep 0.1
done
"$target/release/btcr-load" --rpc "http://127.0.0.1:$port" "${args[@]}"
kill $anvil_pid
wait $anvil_pid 2>/dev/null || true

echo "== btcr"
"$target/release/btcr-load" --gas-limit 1000000000 "${args[@]}"
