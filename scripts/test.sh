#!/usr/bin/env bash
# Runs the whole test suite, starting every service it needs (and stopping those it started).
# Extra arguments go to Maven, e.g. scripts/test.sh -pl platform-layer -am
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
trap stop_started_services EXIT

ensure_rabbitmq
ensure_chromium
export SKIFF_AMQP_URI="${SKIFF_AMQP_URI:-amqp://guest:guest@localhost:5672}"

mvn -B -ntp verify "$@"
