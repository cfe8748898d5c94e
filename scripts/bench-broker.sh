#!/usr/bin/env bash
# A private RabbitMQ node for the JMH benchmarks (docs/performance.md): same version and settings as the
# machine's broker, on port 5673, so that a benchmark never shares its broker with tests or other work.
#
#   scripts/bench-broker.sh start   # idempotent; prints the URI to use as SKIFF_BENCH_AMQP_URI
#   scripts/bench-broker.sh stop
set -euo pipefail

NODE="bench@localhost"
PORT="${SKIFF_BENCH_BROKER_PORT:-5673}"
BASE="${TMPDIR:-/tmp}/skiff-bench-broker"

env_for_node() {
  export RABBITMQ_NODENAME="$NODE"
  export RABBITMQ_NODE_PORT="$PORT"
  export RABBITMQ_DIST_PORT=$((PORT + 20000))
  export RABBITMQ_MNESIA_BASE="$BASE/mnesia"
  export RABBITMQ_LOG_BASE="$BASE/log"
  export RABBITMQ_CONFIG_FILE="$BASE/rabbitmq"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$BASE/enabled_plugins"
  export RABBITMQ_PID_FILE="$BASE/pid"
}

case "${1:-}" in
  start)
    env_for_node
    mkdir -p "$BASE/mnesia" "$BASE/log"
    printf 'listeners.tcp.local = 127.0.0.1:%s\nloopback_users = none\n' "$PORT" > "$BASE/rabbitmq.conf"
    echo '[].' > "$BASE/enabled_plugins"
    # the Debian scripts run the broker as the rabbitmq user
    if [ "$(id -u)" = 0 ] && id -u rabbitmq >/dev/null 2>&1; then
      chown -R rabbitmq: "$BASE"
    fi
    if ! rabbitmqctl -n "$NODE" status >/dev/null 2>&1; then
      rabbitmq-server -detached
      rabbitmqctl -n "$NODE" wait --timeout 60 "$BASE/pid" >/dev/null
    fi
    # ahead of other work on the machine, as the benchmark JVM is run with nice -n -10 (root only)
    if [ "$(id -u)" = 0 ] && [ -f "$BASE/pid" ]; then
      for task in /proc/"$(cat "$BASE/pid")"/task/*; do
        renice -n -10 -p "${task##*/}" >/dev/null 2>&1 || true
      done
    fi
    echo "amqp://guest:guest@127.0.0.1:$PORT"
    ;;
  stop)
    env_for_node
    rabbitmqctl -n "$NODE" stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
