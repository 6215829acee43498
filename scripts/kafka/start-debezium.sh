#!/usr/bin/env bash
# Runs Kafka Connect (standalone worker) with the Debezium PostgreSQL connector in the
# foreground, capturing a Postgres database into a Kafka broker as Debezium JSON.
#
#   scripts/kafka/start-debezium.sh --bootstrap HOST:PORT --pg-port PORT [options]
#     --pg-host HOST            default 127.0.0.1
#     --pg-user USER            default postgres (password from PGPASSWORD, never an argument)
#     --pg-db DB                default postgres
#     --prefix PREFIX           topic prefix (topics are PREFIX.schema.table), default cdc
#     --tables LIST             table.include.list, e.g. public.products,public.orders
#     --slot NAME               replication slot, default debezium_<prefix>
#     --schemas true|false      embed JSON schemas in every message (default true)
#     --rest-port PORT          Connect REST port (default: a free one)
#     --dir DIR                 state dir (offsets file), default a new temp dir
#     --set key=value           extra connector property (repeatable), e.g. --set snapshot.mode=no_data
#     --fetch-only              only download the jars into the cache
#
# Jars come from Maven Central once (connect-pom.xml): the Connect worker and the connector
# plugin (loaded through plugin.path). Versions: CONNECT_VERSION (default 4.3.1, the newest
# connect-runtime served), DEBEZIUM_VERSION (default 3.4.3.Final). Needs Java 17+.
# Prints DEBEZIUM_REST=http://127.0.0.1:PORT and then execs the JVM.
set -euo pipefail
source "$(dirname "$0")/jars.sh"

CONNECT_VERSION="${CONNECT_VERSION:-4.3.1}"
DEBEZIUM_VERSION="${DEBEZIUM_VERSION:-3.4.3.Final}"
bootstrap="" pg_host=127.0.0.1 pg_port="" pg_user=postgres pg_db=postgres prefix=cdc tables="" slot=""
schemas=true rest_port="" dir="" fetch_only=0 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bootstrap) bootstrap="$2"; shift 2 ;;
    --pg-host) pg_host="$2"; shift 2 ;;
    --pg-port) pg_port="$2"; shift 2 ;;
    --pg-user) pg_user="$2"; shift 2 ;;
    --pg-db) pg_db="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --tables) tables="$2"; shift 2 ;;
    --slot) slot="$2"; shift 2 ;;
    --schemas) schemas="$2"; shift 2 ;;
    --rest-port) rest_port="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --set) extra+=("$2"); shift 2 ;;
    --fetch-only) fetch_only=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

worker_libs="$CDC_CACHE_DIR/kafka-connect-$CONNECT_VERSION"
plugins="$CDC_CACHE_DIR/debezium-plugins-$DEBEZIUM_VERSION"
fetch_jars "$KAFKA_SCRIPTS_DIR/connect-pom.xml" "$worker_libs" -P worker -Dkafka.version="$CONNECT_VERSION"
fetch_jars "$KAFKA_SCRIPTS_DIR/connect-pom.xml" "$plugins/debezium-connector-postgres" -P '!worker,connector' \
  -Ddebezium.version="$DEBEZIUM_VERSION" -DexcludeGroupIds=org.slf4j
[ "$fetch_only" = 1 ] && { echo "$worker_libs"; echo "$plugins"; exit 0; }

[ -n "$bootstrap" ] || { echo "--bootstrap is required" >&2; exit 2; }
[ -n "$pg_port" ] || { echo "--pg-port is required" >&2; exit 2; }
java="$(java_at_least 17)"
[ -n "$dir" ] || dir="$(mktemp -d "${TMPDIR:-/tmp}/cdc-debezium-XXXXXX")"
mkdir -p "$dir"
[ -n "$rest_port" ] || rest_port="$(free_port)"
[ -n "$slot" ] || slot="debezium_$(echo "$prefix" | tr -c 'a-zA-Z0-9_\n' '_')"

cat > "$dir/worker.properties" <<PROPS
bootstrap.servers=$bootstrap
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=$schemas
value.converter.schemas.enable=$schemas
offset.storage.file.filename=$dir/connect.offsets
offset.flush.interval.ms=1000
plugin.path=$plugins
listeners=http://127.0.0.1:$rest_port
PROPS

# The password comes from PGPASSWORD and goes only into the state dir (mode 600), never to
# the command line or the output.
umask 077
{
  echo "name=cdc-postgres-$prefix"
  echo "connector.class=io.debezium.connector.postgresql.PostgresConnector"
  echo "tasks.max=1"
  echo "plugin.name=pgoutput"
  echo "database.hostname=$pg_host"
  echo "database.port=$pg_port"
  echo "database.user=$pg_user"
  echo "database.password=${PGPASSWORD:-}"
  echo "database.dbname=$pg_db"
  echo "topic.prefix=$prefix"
  echo "slot.name=$slot"
  echo "publication.name=dbz_$slot"
  echo "publication.autocreate.mode=filtered"
  echo "decimal.handling.mode=string"
  echo "heartbeat.interval.ms=5000"
  echo "tombstones.on.delete=true"
  # Debezium skips truncates by default (skipped.operations=t): truncate rules would never fire.
  echo "skipped.operations=none"
  [ -n "$tables" ] && echo "table.include.list=$tables"
  for kv in "${extra[@]+"${extra[@]}"}"; do echo "$kv"; done
} > "$dir/connector.properties"

echo "DEBEZIUM_REST=http://127.0.0.1:$rest_port"
echo "DEBEZIUM_DIR=$dir"
exec "$java" -Xms64m "-Xmx${CONNECT_HEAP:-384m}" -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
  "-Dlog4j2.configurationFile=$KAFKA_SCRIPTS_DIR/log4j2.properties" \
  -cp "$worker_libs/*" org.apache.kafka.connect.cli.ConnectStandalone "$dir/worker.properties" "$dir/connector.properties"
