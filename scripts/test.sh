#!/usr/bin/env bash
# Runs the whole test suite, starting every service it needs (and stopping those it started).
# Extra arguments go to Maven, e.g. scripts/test.sh -pl platform-layer -am
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
trap stop_started_services EXIT

ensure_rabbitmq
clean_test_queues
ensure_chromium
ensure_memcached
ensure_zookeeper
ensure_cassandra
export SKIFF_AMQP_URI="${SKIFF_AMQP_URI:-amqp://guest:guest@localhost:5672}"
export SKIFF_MEMCACHED_HOSTS="${SKIFF_MEMCACHED_HOSTS:-127.0.0.1:11211}"
export SKIFF_ZOOKEEPER_HOSTS="${SKIFF_ZOOKEEPER_HOSTS:-127.0.0.1:2181}"
export SKIFF_CASSANDRA_HOSTS="${SKIFF_CASSANDRA_HOSTS:-127.0.0.1:9042}"

mvn -B -ntp verify "$@"
