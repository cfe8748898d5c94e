#!/usr/bin/env bash
# Runs the whole test suite, starting every service it needs (and stopping those it started), then
# fails if any test was skipped that .ci/allowed-skips does not list with its reason.
#
# With no arguments that pick modules, the suite runs in two lanes side by side: everything is built
# and installed once (tests skipped), then one Maven run tests the service layer and the kernel while
# another tests every other module, each lane on a RabbitMQ vhost of its own. Most of the suite waits
# on real processes (brokers, stores, services restarting), so two lanes take about two thirds of the
# time of one on a 2-core machine. Each lane's output is prefixed with its number.
#
# Extra arguments go to Maven, e.g. scripts/test.sh -pl platform-layer -am; with -pl/--projects or
# -rf/--resume-from, or with SKIFF_TEST_LANES=1, or with SKIFF_AMQP_URI naming a broker of your own
# (both lanes would share its vhost), the suite runs as one Maven run instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh

# the modules of lane 2; lane 1 is every other module (so a new module is tested without a change here)
LANE_2="service-layer,kernel,benchmarks-service-layer"

lanes=2
[ "${SKIFF_TEST_LANES:-2}" = 1 ] && lanes=1
[ -n "${SKIFF_AMQP_URI:-}" ] && lanes=1
for arg in "$@"; do
  case "$arg" in
    -pl|--projects|--projects=*|-rf|--resume-from|--resume-from=*) lanes=1 ;;
  esac
done

# Starts lane N (modules as -pl takes them; what it tests, for the log) on a vhost of its own, in the
# background, in its own process group, so that an interrupted run stops the lane's Maven and its forks.
lane_pids=""
start_lane() {
  local n="$1" modules="$2" what="$3"
  shift 3
  ensure_test_vhost "lane$n"
  log "lane $n tests $what; its output is prefixed [$n]"
  SKIFF_AMQP_URI="amqp://guest:guest@localhost:5672/$SKIFF_TEST_VHOST" \
    setsid bash -c 'set -o pipefail; mvn -B -ntp verify "$@" 2>&1 | sed -u "s/^/[$0] /"; rc=$?; echo; exit $rc' "$n" \
    -pl "$modules" "$@" </dev/null &
  lane_pids="$lane_pids $!"
}

# After a failed run: which tests failed, and how, from the reports this run wrote. A CI log is often
# kept only in part (its end), so the names of the failing tests are repeated last, with the seed.
summarise_failures() {
  local report
  log "failed tests (seed $seed):"
  find . -path '*/target/*-reports/*.txt' -newer "$since" -print 2>/dev/null | sort | while read -r report; do
    grep -qE '<<< (FAILURE|ERROR)!' "$report" || continue
    echo "  == $report"
    grep -E -A6 '<<< (FAILURE|ERROR)!' "$report" | grep -vE '^\s+at (org\.junit|java\.base|org\.apache\.maven)' | head -40 | sed 's/^/  /'
  done
}

cleanup() {
  local p
  for p in $lane_pids; do
    kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true
  done
  stop_started_services
}
trap cleanup EXIT
register_run

ensure_services ensure_rabbitmq ensure_chromium ensure_memcached ensure_zookeeper ensure_cassandra
export SKIFF_MEMCACHED_HOSTS="${SKIFF_MEMCACHED_HOSTS:-127.0.0.1:11211}"
export SKIFF_ZOOKEEPER_HOSTS="${SKIFF_ZOOKEEPER_HOSTS:-127.0.0.1:2181}"
export SKIFF_CASSANDRA_HOSTS="${SKIFF_CASSANDRA_HOSTS:-127.0.0.1:9042}"

# test methods run in a random order (the root pom); this run's order, to replay a failure:
seed="${SKIFF_TEST_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
log "test method order seed: $seed (replay with SKIFF_TEST_SEED=$seed scripts/test.sh)"

since="$(mktemp)"
if [ "$lanes" = 1 ]; then
  if [ -z "${SKIFF_AMQP_URI:-}" ]; then
    ensure_test_vhost
    export SKIFF_AMQP_URI="amqp://guest:guest@localhost:5672/$SKIFF_TEST_VHOST"
  fi
  mvn -B -ntp verify -Djunit.jupiter.execution.order.random.seed="$seed" "$@" || { summarise_failures; exit 1; }
else
  # the same build as scripts/demo.sh's, so a change that breaks the Quick start's first command breaks CI
  log "building and installing every module once, tests skipped"
  mvn -B -ntp install -DskipTests "$@"
  start_lane 1 "!${LANE_2//,/,!}" "every module but $LANE_2" -Djunit.jupiter.execution.order.random.seed="$seed" "$@"
  start_lane 2 "$LANE_2" "$LANE_2" -Djunit.jupiter.execution.order.random.seed="$seed" "$@"
  failed=""
  i=0
  for p in $lane_pids; do
    i=$((i + 1))
    wait "$p" || failed="$failed $i"
  done
  lane_pids=""
  if [ -n "$failed" ]; then
    log "lane(s)$failed failed: look for [N] lines with ERROR or FAILURE above"
    summarise_failures
    exit 1
  fi
  log "both lanes passed"
fi
java scripts/SkipCheck.java .ci/allowed-skips . "$since"
rm -f "$since"
