#!/usr/bin/env bash
# Installs everything the tests, the demo and the benchmark need on a fresh machine.
# Idempotent: quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v pgrep >/dev/null 2>&1 || need_apt+=(procps)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
# Kafka and Debezium (Kafka Connect) run from Maven Central jars: they need Maven and Java 17+.
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
if ! java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'; then need_apt+=(openjdk-17-jre-headless); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

# Fetch (once; cached under ~/.cache/cdc-invalidator) the Kafka broker and Debezium jars the tests start.
bash scripts/kafka/start-kafka.sh --fetch-only >/dev/null
bash scripts/kafka/start-debezium.sh --fetch-only >/dev/null
echo "setup: ok"
