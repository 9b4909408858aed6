#!/usr/bin/env bash
# Installs the services the tests start for themselves (each test makes its own server on a
# free local port and stops it after): PostgreSQL, Redis, RabbitMQ and an SMTP sink from
# Debian's `postgresql`, `redis-server`, `rabbitmq-server` and `python3-aiosmtpd`; and the
# checkers of deploy/: `promtool` (`prometheus`), `amtool` (`prometheus-alertmanager`),
# PyYAML and jsonschema (`python3-yaml`, `python3-jsonschema`). Installs only what is missing, and only as root with apt-get;
# otherwise says what to install.
set -euo pipefail

missing=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -z "${BTCR_PG_BIN:-}" ]; then
  missing+=(postgresql)
fi
if ! command -v redis-server >/dev/null && [ -z "${BTCR_REDIS_SERVER:-}" ]; then
  missing+=(redis-server)
fi
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && [ -z "${BTCR_RABBITMQ_SERVER:-}" ]; then
  missing+=(rabbitmq-server)
fi
if ! /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 && [ -z "${BTCR_SMTP_PYTHON:-}" ]; then
  missing+=(python3-aiosmtpd)
fi
if ! command -v promtool >/dev/null && [ -z "${BTCR_PROMTOOL:-}" ]; then
  missing+=(prometheus)
fi
if ! command -v amtool >/dev/null && [ -z "${BTCR_AMTOOL:-}" ]; then
  missing+=(prometheus-alertmanager)
fi
if ! /usr/bin/python3 -c 'import yaml' >/dev/null 2>&1; then
  missing+=(python3-yaml)
fi
if ! /usr/bin/python3 -c 'import jsonschema' >/dev/null 2>&1; then
  missing+=(python3-jsonschema)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "the tests need Debian's ${missing[*]}: install them (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing ${missing[*]} from Debian's packages for the tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
  { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
# The packages start servers of their own; the tests never use them.
if command -v service >/dev/null; then
  service redis-server stop >/dev/null 2>&1 || true
  service rabbitmq-server stop >/dev/null 2>&1 || true
  service prometheus stop >/dev/null 2>&1 || true
  service prometheus-alertmanager stop >/dev/null 2>&1 || true
fi
if command -v pg_lsclusters >/dev/null; then
  pg_lsclusters -h 2>/dev/null | while read -r version name _; do
    pg_ctlcluster "$version" "$name" stop 2>/dev/null || true
  done
fi
