#!/usr/bin/env bash
# Writes the Secrets the manifests read, for a new network of four validators:
#   btcr-validator-homes  each validator's keys and node.json (node<i>-validator.key,
#                         node<i>-p2p.key, node<i>-node.json) and the genesis
#   btcr-full-node-home   the full nodes' node.json and the genesis (no network key: each
#                         pod makes its own)
#   btcr-services         the service URLs of `btcr api` and the full nodes, from the
#                         environment (BTCR_ACCOUNTS_DATABASE_URL, BTCR_REDIS_URL,
#                         BTCR_AMQP_URL, BTCR_SMTP_URL), when set
# Usage: deploy/k8s/make-secrets.sh OUT_DIR [NAMESPACE]   then: kubectl apply -f OUT_DIR
# Keep OUT_DIR private: it holds the validators' keys.
set -euo pipefail
out="${1:?usage: make-secrets.sh OUT_DIR [NAMESPACE]}"
namespace="${2:-btcr}"
btcr="${BTCR:-btcr}"
umask 077
mkdir -p "$out"
homes="$out/homes"
"$btcr" testnet --validators 4 --full-nodes 1 --out "$homes" \
  --hosts 'btcr-validator-{i}.btcr-validator' >/dev/null

secret() { # NAME, then KEY=FILE pairs
  local name="$1"; shift
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: Opaque\ndata:\n' \
    "$name" "$namespace"
  local pair
  for pair in "$@"; do
    printf '  %s: %s\n' "${pair%%=*}" "$(base64 -w0 < "${pair#*=}")"
  done
}

pairs=("genesis.json=$homes/genesis.json")
for i in 0 1 2 3; do
  for f in validator.key p2p.key node.json; do
    pairs+=("node$i-$f=$homes/node$i/$f")
  done
done
secret btcr-validator-homes "${pairs[@]}" > "$out/validator-homes.yaml"
secret btcr-full-node-home "genesis.json=$homes/genesis.json" "node.json=$homes/node4/node.json" \
  > "$out/full-node-home.yaml"

services=()
for name in BTCR_ACCOUNTS_DATABASE_URL BTCR_REDIS_URL BTCR_AMQP_URL BTCR_SMTP_URL; do
  if [ -n "${!name:-}" ]; then
    printf '%s' "${!name}" > "$out/.$name"
    services+=("$name=$out/.$name")
  fi
done
if [ ${#services[@]} -gt 0 ]; then
  secret btcr-services "${services[@]}" > "$out/services.yaml"
  rm -f "$out"/.BTCR_*
fi
echo "Wrote the Secrets to $out (apply them with: kubectl apply -f $out)"
