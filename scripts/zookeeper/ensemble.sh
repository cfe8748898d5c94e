#!/usr/bin/env bash
# Runs a 3-member ZooKeeper ensemble on one machine (127.0.0.1, distinct client, peer and election ports),
# each member a small JVM (128 MB heap) of the machine's ZooKeeper installation
# (/usr/share/java/zookeeper.jar, as scripts/services.sh installs it). For tests and for trying Skiff on an
# ensemble; docs/operations.md.
#
#   ensemble.sh start [DIR]         start the members (those already running are left alone); wait until
#                                   each serves (as leader or follower)
#   ensemble.sh stop [DIR]          stop the members started in DIR (SIGTERM); nothing else
#   ensemble.sh start-member N [DIR]  start member N (1 to 3) again; wait until it serves
#   ensemble.sh stop-member N [DIR]   stop member N (SIGTERM)
#   ensemble.sh kill-member N [DIR]   kill member N (SIGKILL: as a crash)
#   ensemble.sh status [DIR]        one line per member: client port, pid, mode (leader, follower, down)
#   ensemble.sh hosts               the connect string, for zookeeper.hosts
#
# DIR defaults to $SKIFF_SERVICES_DIR/zookeeper-ensemble (/tmp/skiff-services/zookeeper-ensemble).
# Ports: SKIFF_ZK_CLIENT_PORTS (default "2281 2282 2283"), SKIFF_ZK_PEER_PORTS (default
# "2888 2889 2890"), SKIFF_ZK_ELECTION_PORTS (default "3888 3889 3890"). tickTime 500 ms: sessions of
# 1 s to 10 s, as the single test server.
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/../common.sh"
read -r -a client <<< "${SKIFF_ZK_CLIENT_PORTS:-2281 2282 2283}"
read -r -a peer <<< "${SKIFF_ZK_PEER_PORTS:-2888 2889 2890}"
read -r -a election <<< "${SKIFF_ZK_ELECTION_PORTS:-3888 3889 3890}"
jar=/usr/share/java/zookeeper.jar

default_dir() { services_dir zookeeper-ensemble; }

hosts() {
  local p out=""
  for p in "${client[@]}"; do out="${out:+$out,}127.0.0.1:$p"; done
  echo "$out"
}

# "srvr" answers with the mode only once the member serves
mode() { tcp_ask "$1" srvr | sed -n 's/^Mode: //p'; }

serves() { [ -n "$(mode "$1")" ]; }

running() { [ -f "$1/zookeeper.pid" ] && kill -0 "$(cat "$1/zookeeper.pid")" 2>/dev/null; }

launch() {
  local n="$1" dir="$2" d="$2/member$1" i
  mkdir -p "$d/data"
  if running "$d"; then
    log "ZooKeeper member $n (127.0.0.1:${client[$((n - 1))]}) is already running"
    return 0
  fi
  [ -f "$jar" ] || { log "ZooKeeper is not installed at $jar (scripts/test.sh installs it)"; return 1; }
  echo "$n" > "$d/data/myid"
  {
    echo "tickTime=500"
    echo "initLimit=10"
    echo "syncLimit=5"
    echo "dataDir=$d/data"
    echo "clientPort=${client[$((n - 1))]}"
    echo "clientPortAddress=127.0.0.1"
    echo "maxClientCnxns=0"
    echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=srvr,ruok"
    echo "forceSync=no"
    for i in 1 2 3; do
      echo "server.$i=127.0.0.1:${peer[$((i - 1))]}:${election[$((i - 1))]}"
    done
  } > "$d/zoo.cfg"
  nohup java -Xmx128m -XX:+UseSerialGC -Dzookeeper.log.dir="$d" -cp /etc/zookeeper/conf:"$jar" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" > "$d/zookeeper.log" 2>&1 < /dev/null &
  echo $! > "$d/zookeeper.pid"
  log "starting ZooKeeper member $n on 127.0.0.1:${client[$((n - 1))]} (pid $!)"
}

await_serving() {
  local n="$1" d="$2/member$1" port="${client[$(($1 - 1))]}"
  await_up "ZooKeeper member $n" 60 "$d/zookeeper.pid" "$d/zookeeper.log" serves "$port" || return 1
  log "ZooKeeper member $n serves as $(mode "$port")"
}

end() {
  local n="$1" d="$2/member$1" signal="$3" pid i
  [ -f "$d/zookeeper.pid" ] || return 0
  pid="$(cat "$d/zookeeper.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -"$signal" "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { log "member $n (pid $pid) did not stop in 10 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$d/zookeeper.pid"
}

# a member serves only once a quorum is up: local_nodes_main starts all, then waits for each
node() {
  local n="$1" dir="$2" pid m
  case "$3" in
    start) launch "$n" "$dir" ;;
    await) await_serving "$n" "$dir" ;;
    stop) end "$n" "$dir" TERM ;;
    kill) end "$n" "$dir" KILL ;;
    status)
      pid=-; running "$dir/member$n" && pid="$(cat "$dir/member$n/zookeeper.pid")"
      m="$(mode "${client[$((n - 1))]}")"
      echo "member$n 127.0.0.1:${client[$((n - 1))]} pid $pid ${m:-down}" ;;
  esac
}

local_nodes_main member ensemble 3 "$@"
