# Sourced by the project's scripts (services.sh, cassandra/ring.sh, zookeeper/ensemble.sh): what they share.

log() { printf '[skiff] %s\n' "$*" >&2; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Where the services the scripts start keep their data, logs and pid files; with an argument, that folder in it.
services_dir() { printf '%s\n' "${SKIFF_SERVICES_DIR:-${TMPDIR:-/tmp}/skiff-services}${1:+/$1}"; }

# tcp_ask PORT REQUEST [READER]: prints what the server on 127.0.0.1:PORT answers to REQUEST (a printf
# format, e.g. 'version\r\n'), read by READER (default: cat, to the end); nothing if it does not answer in 2 s.
tcp_ask() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf '$2' >&3 && ${3:-cat} <&3" 2>/dev/null || true
}

# await_up NAME SECONDS PIDFILE LOGFILE CHECK...: polls CHECK every 0.1 s until it succeeds (logging how long
# NAME took), for at most SECONDS; gives up at once, with the tail of LOGFILE, when the process of PIDFILE
# exits (PIDFILE empty: not watched).
await_up() {
  local name="$1" seconds="$2" pidfile="$3" logfile="$4" t0
  shift 4
  t0="$(now_ms)"
  while [ $(( $(now_ms) - t0 )) -lt $(( seconds * 1000 )) ]; do
    if "$@"; then
      log "$name ready after $(( $(now_ms) - t0 )) ms"
      return 0
    fi
    if [ -n "$pidfile" ] && ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
      log "$name exited while starting:"; tail -20 "$logfile" >&2
      return 1
    fi
    sleep 0.1
  done
  log "$name did not answer in $seconds s${logfile:+; see $logfile}"
  return 1
}

# local_nodes_main NOUN GROUP COUNT ARGS...: the command line of a group of COUNT local nodes (ring.sh:
# node ring; ensemble.sh: member ensemble), which defines node N DIR ACTION for ACTION start, await (after
# start: wait until it serves), stop, kill and status, default_dir, and hosts (the contact points).
local_nodes_main() {
  local noun="$1" group="$2" count="$3" cmd="${4:-}" dir n
  shift 3
  shift || true
  case "$cmd" in
    start|stop|status)
      [ $# -le 1 ] || { echo "usage: $0 $cmd [DIR]" >&2; exit 2; }
      dir="$(nodes_dir "${1:-$(default_dir)}")"
      for n in $(seq 1 "$count"); do node "$n" "$dir" "$cmd"; done
      # a node may serve only once enough others run: start all, then wait for each
      if [ "$cmd" = start ]; then
        for n in $(seq 1 "$count"); do node "$n" "$dir" await; done
      fi ;;
    "start-$noun"|"stop-$noun"|"kill-$noun")
      [ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 $cmd N [DIR]" >&2; exit 2; }
      [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$count" ] || { log "no $noun $1: the $group has $count"; exit 2; }
      dir="$(nodes_dir "${2:-$(default_dir)}")"
      node "$1" "$dir" "${cmd%-"$noun"}"
      [ "$cmd" != "start-$noun" ] || node "$1" "$dir" await ;;
    hosts) hosts ;;
    *) echo "usage: $0 start [DIR] | stop [DIR] | start-$noun N [DIR] | stop-$noun N [DIR] | kill-$noun N [DIR] | status [DIR] | hosts" >&2
      exit 2 ;;
  esac
}

# nodes_dir DIR: makes DIR if missing and prints its absolute path.
nodes_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}
