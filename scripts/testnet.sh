#!/usr/bin/env bash
# Starts a local multi-validator network on 127.0.0.1: `btcr testnet` writes it (once), then
# every node runs as its own `btcr node` process. Ctrl-C stops them all; the chain stays in
# DIR and the next run reopens it.
#
#   scripts/testnet.sh [--validators N] [--full-nodes N] [--out DIR] [--block-time 500ms]
#
# Node i serves JSON-RPC on 127.0.0.1:(8545 + i) and talks to its peers on 26600 + i. Logs go
# to DIR/nodeI/node.log. BTCR_BIN picks the binary (default: a release build made here).
set -euo pipefail
cd "$(dirname "$0")/.."

validators=4
full_nodes=0
out=testnet
block_time=500ms
while [ $# -gt 0 ]; do
  case "$1" in
    --validators) validators="$2"; shift 2 ;;
    --full-nodes) full_nodes="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --block-time) block_time="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [ -z "${BTCR_BIN:-}" ]; then
  cargo build --release --locked -p btcr
  BTCR_BIN=target/release/btcr
fi

if [ ! -f "$out/genesis.json" ]; then
  "$BTCR_BIN" testnet --validators "$validators" --full-nodes "$full_nodes" \
    --block-time "$block_time" --out "$out"
else
  echo "reopening the network in $out"
fi

pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping ${#pids[@]} nodes"
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

for home in "$out"/node*/; do
  home="${home%/}"
  "$BTCR_BIN" node --home "$home" >"$home/node.out" 2>>"$home/node.log" &
  pids+=("$!")
done

sleep 2
for home in "$out"/node*/; do
  home="${home%/}"
  grep -h "JSON-RPC" "$home/node.out" | sed "s|^|$(basename "$home")  |" || true
done
echo "${#pids[@]} nodes running; logs in $out/node*/node.log; Ctrl-C stops them"
wait -n "${pids[@]}" || true
echo "a node stopped; see its node.log" >&2
