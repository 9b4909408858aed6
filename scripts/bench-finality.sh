#!/usr/bin/env bash
# Finality benchmark: a network of validators on this machine (default 4, each its own
# process), then btcr-load against node0: latency from submission to a finalized block at a
# steady 1,000 transfers/s, and the highest sustained finalized rate (transfers sent as fast
# as the node takes them, in HTTP batches). Transfers reach the other proposers through the
# transaction network. Prints the machine's load before each run.
#
#   scripts/bench-finality.sh [--validators N] [--block-time 100ms] [--rate 1000]
#                             [--latency-transfers 30000] [--max-transfers 100000]
#                             [--bin DIR]
#
# The binaries are built into $CARGO_TARGET_DIR (default target/); `--bin DIR` runs the
# btcr and btcr-load already in DIR instead (to compare two builds side by side).
set -euo pipefail
cd "$(dirname "$0")/.."

validators=4
block_time=100ms
rate=1000
latency_transfers=30000
max_transfers=100000
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --validators) validators="$2"; shift 2 ;;
    --block-time) block_time="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --latency-transfers) latency_transfers="$2"; shift 2 ;;
    --max-transfers) max_transfers="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [ -z "$bin" ]; then
  cargo build --release --locked -p btcr -p btcr-testkit
  bin="${CARGO_TARGET_DIR:-target}/release"
fi
echo "== binaries: $bin"
dir=$(mktemp -d -t btcr-finality-XXXXXX)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# Enough funded accounts for btcr-load (the pool holds 64 transactions per sender).
accounts=$(( (max_transfers > latency_transfers ? max_transfers : latency_transfers) / 64 + 64 ))
"$bin/btcr" testnet --validators "$validators" --block-time "$block_time" --accounts "$accounts" \
  --gas-limit 1000000000 --p2p-port 36600 --gossip-port 36700 --rpc-port 38545 --out "$dir/net" >/dev/null
for home in "$dir"/net/node*/; do
  "$bin/btcr" node --home "${home%/}" >"${home%/}/node.out" 2>"${home%/}/node.log" &
  pids+=("$!")
done
rpc=http://127.0.0.1:38545
for _ in $(seq 1 100); do
  curl -sf -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$rpc" >/dev/null && break
  sleep 0.2
done

echo "== $validators validators, block time $block_time, $(nproc) cores"
echo "== latency at $rate transfers/s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$bin/btcr-load" --rpc "$rpc" --transfers "$latency_transfers" --rate "$rate" --mode http \
  --concurrency 16 --reads 0
echo "== highest sustained finalized rate (load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$bin/btcr-load" --rpc "$rpc" --transfers "$max_transfers" --mode batch --concurrency 16 --reads 0
