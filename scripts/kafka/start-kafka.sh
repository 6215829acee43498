#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker (KRaft, combined controller+broker) in the foreground.
#
#   scripts/kafka/start-kafka.sh [--dir DIR] [--port PORT] [--controller-port PORT]
#   scripts/kafka/start-kafka.sh --fetch-only        # only download the jars into the cache
#
# Jars come from Maven Central once (broker-pom.xml, cached under $CDC_CACHE_DIR or
# ~/.cache/cdc-invalidator/kafka-<version>). Storage is formatted on first use of DIR
# (default: a new temp dir); starting again on the same DIR and ports keeps the data,
# which is how tests restart a broker. KAFKA_VERSION picks the version (see docs/kafka.md),
# KAFKA_HEAP the JVM heap (default 512m). The java process replaces this shell (exec), so
# a signal to this pid reaches the broker. Prints `KAFKA_BOOTSTRAP=127.0.0.1:PORT` first.
set -euo pipefail
source "$(dirname "$0")/jars.sh"

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
dir="" port="" cport="" fetch_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --controller-port) cport="$2"; shift 2 ;;
    --fetch-only) fetch_only=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

libs="$CDC_CACHE_DIR/kafka-$KAFKA_VERSION"
fetch_jars "$KAFKA_SCRIPTS_DIR/broker-pom.xml" "$libs" -Dkafka.version="$KAFKA_VERSION"
[ "$fetch_only" = 1 ] && { echo "$libs"; exit 0; }

java="$(java_at_least 17)"
[ -n "$dir" ] || dir="$(mktemp -d "${TMPDIR:-/tmp}/cdc-kafka-XXXXXX")"
mkdir -p "$dir"
[ -n "$port" ] || port="$(free_port)"
[ -n "$cport" ] || cport="$(free_port)"

cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=9223372036854775807
PROPS

cp="$libs/*"
jvm=(-Xms128m "-Xmx${KAFKA_HEAP:-512m}" -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$KAFKA_SCRIPTS_DIR/log4j2.properties" "-Dkafka.logs.dir=$dir/logs")

if [ ! -f "$dir/data/meta.properties" ]; then
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)"
  "$java" "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format "--cluster-id=$cluster_id" -c "$dir/server.properties" >/dev/null
fi

echo "KAFKA_BOOTSTRAP=127.0.0.1:$port"
echo "KAFKA_DIR=$dir"
exec "$java" "${jvm[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties"
