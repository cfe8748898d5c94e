#!/usr/bin/env bash
# A 3-node RabbitMQ cluster on this machine, for the cluster tests and for trying Skiff on a cluster
# (docs/operations.md): nodes skiff-c1@localhost, skiff-c2@localhost and skiff-c3@localhost, AMQP on
# 127.0.0.1:5691-5693, Erlang distribution on 25691-25693, management off, the machine's Erlang cookie
# (the rabbitmq user's, which every node run from the Debian package shares), data and logs under
# $SKIFF_CLUSTER_DIR (default ${TMPDIR:-/tmp}/skiff-rabbitmq-cluster). Each node is kept small for a
# 2-core machine: one Erlang scheduler, no busy waiting, a 1 GB memory watermark.
#
#   scripts/rabbitmq-cluster.sh start          # idempotent; prints SKIFF_AMQP_URI for the cluster
#   scripts/rabbitmq-cluster.sh status         # exit 0 when all three nodes serve, prints the URI list
#   scripts/rabbitmq-cluster.sh stop           # stops the three nodes and deletes their data
#   scripts/rabbitmq-cluster.sh kill NODE      # kill -9 of one node's VM (NODE: 1, 2, 3 or skiff-cN)
#   scripts/rabbitmq-cluster.sh restart NODE   # starts a stopped or killed node again; it rejoins
#   scripts/rabbitmq-cluster.sh uri            # the URI list, whether or not the cluster runs
#   scripts/rabbitmq-cluster.sh connections NODE   # the client connections on one node: the name each client gave, tab, port
#   scripts/rabbitmq-cluster.sh queue-node QUEUE   # the node (1, 2 or 3) of a queue's process: a classic queue's home,
#                                                  # a quorum queue's leader (default virtual host)
#
# `start` forms a fresh cluster when none runs (nodes started together; 2 and 3 join 1), and leaves a
# running one as it is. `stop` touches only these three node names, this folder and its lock file (removed). Needs RabbitMQ
# installed (scripts/test.sh installs it) and, as the Debian scripts require, root or the rabbitmq user.
set -euo pipefail

NODES=(1 2 3)
AMQP_BASE_PORT="${SKIFF_CLUSTER_AMQP_PORT:-5690}"   # node N listens on AMQP_BASE_PORT + N
BASE="${SKIFF_CLUSTER_DIR:-${TMPDIR:-/tmp}/skiff-rabbitmq-cluster}"

log() { printf '[skiff-cluster] %s\n' "$*" >&2; }

node_name() { echo "skiff-c$1@localhost"; }
amqp_port() { echo $((AMQP_BASE_PORT + $1)); }

# The environment of node N's server and of rabbitmqctl talking to it.
env_for_node() {
  local n="$1" dir="$BASE/c$1"
  export RABBITMQ_NODENAME="$(node_name "$n")"
  export RABBITMQ_NODE_PORT="$(amqp_port "$n")"
  export RABBITMQ_DIST_PORT=$(( $(amqp_port "$n") + 20000 ))
  export RABBITMQ_MNESIA_BASE="$dir/mnesia"
  export RABBITMQ_LOG_BASE="$dir/log"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_PID_FILE="$dir/pid"
  # one scheduler, and no scheduler spinning while idle: three nodes share two cores with the tests
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none"
}

parse_node() {
  case "${1:-}" in
    1|2|3) echo "$1" ;;
    skiff-c[123]|skiff-c[123]@localhost) local s="${1#skiff-c}"; echo "${s%%@*}" ;;
    *) log "NODE must be 1, 2, 3 or skiff-c1..3, not '${1:-}'"; exit 2 ;;
  esac
}

ctl() { local n="$1"; shift; ( env_for_node "$n"; rabbitmqctl -q -n "$(node_name "$n")" "$@" ); }

node_ready() {
  local n="$1"
  ctl "$n" await_startup --timeout 2 >/dev/null 2>&1 \
    && (exec 3<>"/dev/tcp/127.0.0.1/$(amqp_port "$n")") 2>/dev/null
}

node_vm_up() { ctl "$1" status >/dev/null 2>&1; }

# The pid of node N's VM, or nothing: from its pid file, or from the node itself; only a process whose
# environment names the node (3.10 passes the node name in the environment, not on the command line).
node_pid() {
  local n="$1" pid
  for pid in "$(cat "$BASE/c$n/pid" 2>/dev/null || true)" \
      "$(ctl "$n" eval 'os:getpid().' 2>/dev/null | tr -d '"[:space:]' || true)"; do
    if [ -n "$pid" ] && tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "RABBITMQ_NODENAME=$(node_name "$n")"; then
      echo "$pid"
      return 0
    fi
  done
}

# Stops node N: rabbitmqctl stop, then kill -9 of its VM if it is still there after 30 s.
stop_node() {
  local n="$1" pid i
  pid="$(node_pid "$n")"
  log "stopping $(node_name "$n")${pid:+ (pid $pid)}"
  ctl "$n" stop >/dev/null 2>&1 || true
  [ -n "$pid" ] || return 0
  for i in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$(node_name "$n") still running after 30 s: kill -9 $pid"
  kill -9 "$pid" 2>/dev/null || true
}

await_node() {
  local n="$1" i
  for i in $(seq 1 120); do
    if node_ready "$n"; then return 0; fi
    sleep 0.5
  done
  log "node $(node_name "$n") did not come up in 60 s; its logs are in $BASE/c$n/log"
  return 1
}

uris() {
  local n out=""
  for n in "${NODES[@]}"; do
    out="${out:+$out,}amqp://guest:guest@127.0.0.1:$(amqp_port "$n")"
  done
  echo "$out"
}

write_config() {
  local n="$1" dir="$BASE/c$1"
  mkdir -p "$dir/mnesia" "$dir/log"
  cat > "$dir/rabbitmq.conf" <<CONF
listeners.tcp.local = 127.0.0.1:$(amqp_port "$n")
loopback_users = none
vm_memory_high_watermark.absolute = 1GB
disk_free_limit.absolute = 100MB
cluster_partition_handling = pause_minority
collect_statistics_interval = 30000
CONF
  # the consistent-hash exchange is what version routing needs (docs/routing.md)
  echo '[rabbitmq_consistent_hash_exchange].' > "$dir/enabled_plugins"
  if [ "$(id -u)" = 0 ] && id -u rabbitmq >/dev/null 2>&1; then
    chown -R rabbitmq: "$BASE"
  fi
}

start_node() {
  local n="$1"
  if node_vm_up "$n"; then
    return 0
  fi
  write_config "$n"
  ( env_for_node "$n"; rabbitmq-server -detached >/dev/null 2>&1 )
}

cluster_ready() {
  local n
  for n in "${NODES[@]}"; do
    node_ready "$n" || return 1
  done
  # and clustered: node 1 sees all three running
  [ "$(ctl 1 eval 'length(rabbit_nodes:all_running()).' 2>/dev/null | tr -d '[:space:]')" = "${#NODES[@]}" ]
}

cmd_start() {
  if cluster_ready; then
    log "cluster already running"
    uris
    return 0
  fi
  mkdir -p "$BASE"
  exec 7>"$BASE.lock"
  flock 7
  if cluster_ready; then
    log "cluster already running"
    uris
    return 0
  fi
  local fresh=0 n t0
  [ -d "$BASE/c1/mnesia" ] || fresh=1
  if [ "$fresh" = 1 ]; then
    # a node of these names left running without its data (its folder deleted) would not join
    for n in "${NODES[@]}"; do
      if node_vm_up "$n"; then stop_node "$n"; fi
    done
  fi
  t0=$(date +%s)
  log "starting nodes ${NODES[*]} under $BASE"
  for n in "${NODES[@]}"; do start_node "$n"; done
  for n in "${NODES[@]}"; do await_node "$n"; done
  if [ "$fresh" = 1 ] || ! cluster_ready; then
    for n in "${NODES[@]:1}"; do
      if ! ctl 1 eval 'rabbit_nodes:all_running().' 2>/dev/null | grep -q "$(node_name "$n")"; then
        log "joining $(node_name "$n") to $(node_name 1)"
        # (the CLI prints the joining node's start-up warnings: its own log has them)
        ctl "$n" stop_app >/dev/null 2>&1
        ctl "$n" reset >/dev/null 2>&1
        ctl "$n" join_cluster "$(node_name 1)" >/dev/null 2>&1
        ctl "$n" start_app >/dev/null 2>&1
        await_node "$n"
      fi
    done
  fi
  if ! cluster_ready; then
    log "the nodes run but do not form one cluster: see $BASE/c*/log"
    return 1
  fi
  log "cluster of ${#NODES[@]} nodes ready after $(( $(date +%s) - t0 )) s"
  flock -u 7
  uris
}

cmd_status() {
  if cluster_ready; then
    uris
    return 0
  fi
  local n
  for n in "${NODES[@]}"; do
    if node_ready "$n"; then log "$(node_name "$n"): serving"; else log "$(node_name "$n"): down"; fi
  done
  return 1
}

cmd_stop() {
  local n
  # under start's lock, so that a start under way finishes first; the lock file goes with the folder
  exec 7>"$BASE.lock"
  flock 7
  for n in "${NODES[@]}"; do
    stop_node "$n"
  done
  rm -rf "$BASE"
  rm -f "$BASE.lock"
}

cmd_kill() {
  local n pid
  n="$(parse_node "${1:-}")"
  pid="$(node_pid "$n")"
  if [ -z "$pid" ]; then
    log "$(node_name "$n") is not running"
    return 0
  fi
  log "kill -9 $(node_name "$n") (pid $pid)"
  kill -9 "$pid"
  local i
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "pid $pid still there after 10 s"
  return 1
}

cmd_restart() {
  local n
  n="$(parse_node "${1:-}")"
  if node_ready "$n"; then
    log "$(node_name "$n") already serving"
    return 0
  fi
  if node_vm_up "$n"; then
    ctl "$n" start_app >/dev/null
  else
    start_node "$n"
  fi
  await_node "$n"
  log "$(node_name "$n") serving again"
}

case "${1:-}" in
  start) cmd_start ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  kill) cmd_kill "${2:-}" ;;
  restart) cmd_restart "${2:-}" ;;
  uri) uris ;;
  connections)
    n="$(parse_node "${2:-}")"
    # the cluster lists every node's connections: keep those on this node's AMQP port
    # (3.10's CLI has no user_provided_name: the name is in the client properties' connection_name)
    ctl "$n" list_connections port client_properties \
      | awk -F '\t' -v p="$(amqp_port "$n")" '$1 == p && match($2, /\{"connection_name","[^"]*"\}/) {
          name = substr($2, RSTART + 20, RLENGTH - 22); print name "\t" $1 }' ;;
  queue-node)
    q="${2:-}"
    [ -n "$q" ] || { log "usage: $0 queue-node QUEUE"; exit 2; }
    for n in "${NODES[@]}"; do
      node_ready "$n" || continue
      ctl "$n" list_queues name pid | awk -F '\t' -v q="$q" '$1 == q { if (match($2, /<skiff-c[0-9]+@/)) print substr($2, RSTART + 8, RLENGTH - 9) }'
      exit 0
    done
    log "no node serves"; exit 1 ;;
  *)
    echo "usage: $0 start|status|stop|uri|kill NODE|restart NODE|connections NODE|queue-node QUEUE" >&2
    exit 2
    ;;
esac
