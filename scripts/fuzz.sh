#!/usr/bin/env bash
# Fuzzes what BTCR reads from peers, clients and files: the targets in fuzz/ (consensus
# codec, proposal-part reassembly, gossip batches, block ranges, transaction decoding,
# JSON-RPC, REST query strings, keystores), each from its kept corpus in fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh                      every target for 10 million executions
#   scripts/fuzz.sh --runs N [target…]   N executions each
#   scripts/fuzz.sh --seconds S [target…]  S seconds each (CI: 30)
#   scripts/fuzz.sh --keep …             also merge what was found into fuzz/corpus/
#
# Installs cargo-fuzz when missing; builds with the stable compiler (RUSTC_BOOTSTRAP=1
# lets it take the instrumentation flags) and no sanitizer (the code is safe Rust: what we
# look for is panics, runaway memory and hangs). A failing input is saved under
# fuzz/artifacts/<target>/ and the script exits non-zero. At the end it prints, per target,
# the executions, seconds, executions per second and the corpus size.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ALL=(consensus_codec proposal_parts gossip_batch block_range transaction block_stream json_rpc rest_query keystore)
RUNS=10000000
SECONDS_EACH=""
KEEP=0
TARGETS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --seconds) SECONDS_EACH="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *)
      if [[ ! " ${ALL[*]} " == *" $1 "* ]]; then
        echo "unknown target $1; the targets are: ${ALL[*]}" >&2; exit 2
      fi
      TARGETS+=("$1"); shift ;;
  esac
done
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=("${ALL[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --version 0.13.2
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${BTCR_FUZZ_TARGET_DIR:-$HOME/.cache/btcr/fuzz-target}"
echo "building the fuzz targets in $CARGO_TARGET_DIR"
(cd "$ROOT/fuzz" && cargo fuzz build -s none -O)
BIN="$CARGO_TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
SUMMARY="$WORK/summary"
for target in "${TARGETS[@]}"; do
  kept="$ROOT/fuzz/corpus/$target"
  found="$WORK/$target"
  mkdir -p "$found" "$ROOT/fuzz/artifacts/$target"
  if [[ -n "$SECONDS_EACH" ]]; then limit=(-max_total_time="$SECONDS_EACH" -runs=-1); else limit=(-runs="$RUNS"); fi
  if [[ -n "$SECONDS_EACH" ]]; then echo "== $target ($SECONDS_EACH s)"; else echo "== $target ($RUNS runs)"; fi
  log="$WORK/$target.log"
  # New inputs go to the first directory (scratch); the kept corpus is only read.
  if ! "$BIN/$target" "${limit[@]}" -rss_limit_mb=4096 -timeout=20 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$ROOT/fuzz/artifacts/$target/" \
      "$found" "$kept" >"$log" 2>&1; then
    tail -40 "$log"
    echo "FAILED: $target; the input is under fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  size=$(( $(ls "$found" | wc -l) + $(ls "$kept" | wc -l) ))
  echo "$target ${runs:-?} ${took:-?} ${rate:-?} $size" >>"$SUMMARY"
  if [[ $KEEP -eq 1 ]]; then
    "$BIN/$target" -merge=1 -rss_limit_mb=4096 -timeout=20 -max_len=65536 "$kept" "$found" >/dev/null 2>&1
  fi
done
rmdir "$ROOT"/fuzz/artifacts/* 2>/dev/null || true
rmdir "$ROOT/fuzz/artifacts" 2>/dev/null || true
echo
printf '%-16s %14s %8s %10s %8s\n' target executions seconds "exec/s" corpus
while read -r t r s e c; do printf '%-16s %14s %8s %10s %8s\n' "$t" "$r" "$s" "$e" "$c"; done <"$SUMMARY"
