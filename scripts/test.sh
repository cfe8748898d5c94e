#!/usr/bin/env bash
# Runs the whole test suite, starting every service it needs (and stopping those it started), then
# fails if any test was skipped that .ci/allowed-skips does not list with its reason.
# Extra arguments go to Maven, e.g. scripts/test.sh -pl platform-layer -am
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
trap stop_started_services EXIT
register_run

ensure_services ensure_rabbitmq ensure_chromium ensure_memcached ensure_zookeeper ensure_cassandra
if [ -z "${SKIFF_AMQP_URI:-}" ]; then
  ensure_test_vhost
  export SKIFF_AMQP_URI="amqp://guest:guest@localhost:5672/$SKIFF_TEST_VHOST"
fi
export SKIFF_MEMCACHED_HOSTS="${SKIFF_MEMCACHED_HOSTS:-127.0.0.1:11211}"
export SKIFF_ZOOKEEPER_HOSTS="${SKIFF_ZOOKEEPER_HOSTS:-127.0.0.1:2181}"
export SKIFF_CASSANDRA_HOSTS="${SKIFF_CASSANDRA_HOSTS:-127.0.0.1:9042}"

# test methods run in a random order (the root pom); this run's order, to replay a failure:
seed="${SKIFF_TEST_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
log "test method order seed: $seed (replay with SKIFF_TEST_SEED=$seed scripts/test.sh)"

since="$(mktemp)"
mvn -B -ntp verify -Djunit.jupiter.execution.order.random.seed="$seed" "$@"
java scripts/SkipCheck.java .ci/allowed-skips . "$since"
rm -f "$since"
