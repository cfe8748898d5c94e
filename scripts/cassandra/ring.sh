#!/usr/bin/env bash
# Runs a 2-node Cassandra ring on one machine: node 1 on 127.0.0.2, node 2 on 127.0.0.3 (loopback
# addresses: Linux routes all of 127.0.0.0/8 to lo), the same ports on each, each node a small JVM run by
# scripts/cassandra/cassandra.sh. For tests and for trying Skiff on a ring; docs/operations.md.
#
#   ring.sh start [DIR]        start both nodes (those already running are left alone); wait for CQL on each
#   ring.sh stop [DIR]         stop both nodes started in DIR (SIGTERM); nothing else
#   ring.sh start-node N [DIR] start node N (1 or 2) again
#   ring.sh stop-node N [DIR]  stop node N (SIGTERM: drains, as an operator's stop does)
#   ring.sh kill-node N [DIR]  kill node N (SIGKILL: as a crash)
#   ring.sh status [DIR]       one line per node: address, pid, whether it answers CQL
#   ring.sh hosts              the contact points, for cassandra.hosts
#
# DIR defaults to $SKIFF_SERVICES_DIR/cassandra-ring (/tmp/skiff-services/cassandra-ring). Each node keeps
# its data in DIR/nodeN. Ports: SKIFF_RING_NATIVE_PORT (default 9042), SKIFF_RING_STORAGE_PORT (default
# 7000); addresses SKIFF_RING_ADDRESSES (default "127.0.0.2 127.0.0.3"). Each node: heap
# SKIFF_CASSANDRA_HEAP (default here 384M), young generation 64M, 2 concurrent reads and writes, one token
# (the ring's tokens are set evenly, every node is a seed: a fresh ring starts without bootstrap streaming).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../common.sh"
native="${SKIFF_RING_NATIVE_PORT:-9042}"
storage="${SKIFF_RING_STORAGE_PORT:-7000}"
read -r -a addresses <<< "${SKIFF_RING_ADDRESSES:-127.0.0.2 127.0.0.3}"
# evenly spaced Murmur3 tokens for up to 3 nodes
tokens=(-9223372036854775808 -3074457345618258603 3074457345618258602)
[ "${#addresses[@]}" -eq 2 ] && tokens=(-9223372036854775808 0)

default_dir() { services_dir cassandra-ring; }

seeds() {
  local a out=""
  for a in "${addresses[@]}"; do out="${out:+$out,}$a:$storage"; done
  printf '%s\n' "$out"
}

hosts() {
  local a out=""
  for a in "${addresses[@]}"; do out="${out:+$out,}$a:$native"; done
  echo "$out"
}

node() {
  local n="$1" dir="$2" action="$3"
  local address="${addresses[$((n - 1))]}"
  case "$action" in
    start)
      SKIFF_CASSANDRA_ADDRESS="$address" SKIFF_CASSANDRA_SEEDS="$(seeds)" \
        SKIFF_CASSANDRA_TOKEN="${tokens[$((n - 1))]}" SKIFF_CASSANDRA_CLUSTER=skiff-ring \
        SKIFF_CASSANDRA_HEAP="${SKIFF_CASSANDRA_HEAP:-384M}" SKIFF_CASSANDRA_NEWSIZE="${SKIFF_CASSANDRA_NEWSIZE:-64M}" \
        SKIFF_CASSANDRA_CONCURRENCY="${SKIFF_CASSANDRA_CONCURRENCY:-2}" \
        bash "$here/cassandra.sh" start "$dir/node$n" "$native" "$storage" ;;
    await) ;; # cassandra.sh start has waited for CQL
    stop) bash "$here/cassandra.sh" stop "$dir/node$n" ;;
    kill) bash "$here/cassandra.sh" kill "$dir/node$n" ;;
    status)
      local pid="-"
      [ -f "$dir/node$n/cassandra.pid" ] && kill -0 "$(cat "$dir/node$n/cassandra.pid")" 2>/dev/null && pid="$(cat "$dir/node$n/cassandra.pid")"
      if bash "$here/cassandra.sh" ready "$native" "$address"; then
        echo "node$n $address:$native pid $pid answers CQL"
      else
        echo "node$n $address:$native pid $pid down"
      fi ;;
  esac
}

local_nodes_main node ring "${#addresses[@]}" "$@"
