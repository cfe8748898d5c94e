#!/usr/bin/env bash
# Runs a real Apache Cassandra 5.0 server as a plain JVM (CassandraDaemon), from the cassandra-all jars
# on Maven Central: no system install, no Docker. Used by scripts/services.sh and by fault tests that
# need a Cassandra of their own.
#
#   cassandra.sh jars                              fetch the jars (once, cached); print their folder
#   cassandra.sh start DIR NATIVE_PORT STORAGE_PORT  start a node with its data in DIR; wait for CQL
#   cassandra.sh ready NATIVE_PORT [ADDRESS]       exit 0 when a CQL server answers on that port
#   cassandra.sh stop DIR                          stop the node started in DIR (SIGTERM, then wait)
#   cassandra.sh kill DIR                          kill the node started in DIR (SIGKILL, then wait)
#
# Environment: SKIFF_CASSANDRA_HEAP (default 512M), SKIFF_CACHE (default ~/.cache/skiff), and for the
# nodes of a ring (scripts/cassandra/ring.sh): SKIFF_CASSANDRA_ADDRESS (listen and CQL address, default
# 127.0.0.1), SKIFF_CASSANDRA_SEEDS (default the node itself), SKIFF_CASSANDRA_TOKEN (initial_token,
# default random), SKIFF_CASSANDRA_CLUSTER (default skiff-test), SKIFF_CASSANDRA_NEWSIZE (young
# generation, default the JVM's), SKIFF_CASSANDRA_CONCURRENCY (concurrent reads/writes, default 8).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' "$here/pom.xml")"
cache="${SKIFF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/skiff}"
lib="$cache/cassandra-$version/lib"

log() { printf '[skiff] %s\n' "$*" >&2; }

jars() {
  if [ ! -f "$lib/.complete" ]; then
    log "fetching Cassandra $version jars from Maven Central into $lib"
    mkdir -p "$lib"
    mvn -q -B -ntp -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$lib" -DincludeScope=runtime >&2
    touch "$lib/.complete"
  fi
  printf '%s\n' "$lib"
}

# Real protocol readiness: send a CQL v4 OPTIONS frame and expect a SUPPORTED (0x06) response frame.
ready() {
  local port="$1" address="${2:-127.0.0.1}" reply
  reply="$(timeout 2 bash -c "exec 3<>/dev/tcp/$address/$port && printf '\x04\x00\x00\x00\x05\x00\x00\x00\x00' >&3 && head -c 5 <&3 | od -An -tx1" 2>/dev/null || true)"
  [ "$(echo $reply)" = "84 00 00 00 06" ]
}

start() {
  local dir="$1" native="$2" storage="$3"
  local heap="${SKIFF_CASSANDRA_HEAP:-512M}" address="${SKIFF_CASSANDRA_ADDRESS:-127.0.0.1}"
  local conc="${SKIFF_CASSANDRA_CONCURRENCY:-8}" young=() token=""
  [ -n "${SKIFF_CASSANDRA_NEWSIZE:-}" ] && young=(-Xmn"$SKIFF_CASSANDRA_NEWSIZE")
  [ -n "${SKIFF_CASSANDRA_TOKEN:-}" ] && token="initial_token: $SKIFF_CASSANDRA_TOKEN"
  jars >/dev/null
  mkdir -p "$dir/data" "$dir/commitlog" "$dir/saved_caches" "$dir/hints" "$dir/cdc_raw" "$dir/logs"
  dir="$(cd "$dir" && pwd)"
  if [ -f "$dir/cassandra.pid" ] && kill -0 "$(cat "$dir/cassandra.pid")" 2>/dev/null; then
    log "Cassandra in $dir is already running"
  else
    cat > "$dir/cassandra.yaml" <<YAML
cluster_name: ${SKIFF_CASSANDRA_CLUSTER:-skiff-test}
num_tokens: 1
$token
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
listen_address: $address
rpc_address: $address
storage_port: $storage
native_transport_port: $native
start_native_transport: true
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "${SKIFF_CASSANDRA_SEEDS:-$address:$storage}"
data_file_directories: [ "$dir/data" ]
commitlog_directory: $dir/commitlog
saved_caches_directory: $dir/saved_caches
hints_directory: $dir/hints
cdc_raw_directory: $dir/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
concurrent_reads: $conc
concurrent_writes: $conc
concurrent_counter_writes: $conc
auto_snapshot: false
YAML
    cat > "$dir/logback.xml" <<XML
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$dir/logs/system.log</file>
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{20} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
XML
    local jamm
    jamm="$(ls "$lib"/jamm-*.jar | head -1)"
    # The JPMS and Netty flags are those of Cassandra's own conf/jvm17-server.options; the -D settings
    # after them make a single test node start in seconds.
    nohup java -Xms"$heap" -Xmx"$heap" "${young[@]}" -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 \
      -XX:TieredStopAtLevel=1 -XX:+CrashOnOutOfMemoryError \
      -javaagent:"$jamm" \
      -Djdk.attach.allowAttachSelf=true \
      --add-exports java.base/jdk.internal.misc=ALL-UNNAMED \
      --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED \
      --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED \
      --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED \
      --add-exports java.sql/java.sql=ALL-UNNAMED \
      --add-exports java.base/java.lang.ref=ALL-UNNAMED \
      --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED \
      --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED \
      --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED \
      --add-opens java.base/java.lang.module=ALL-UNNAMED \
      --add-opens java.base/jdk.internal.loader=ALL-UNNAMED \
      --add-opens java.base/jdk.internal.ref=ALL-UNNAMED \
      --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED \
      --add-opens java.base/jdk.internal.math=ALL-UNNAMED \
      --add-opens java.base/jdk.internal.module=ALL-UNNAMED \
      --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED \
      --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
      --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
      --add-opens java.base/java.io=ALL-UNNAMED \
      --add-opens java.base/java.lang.reflect=ALL-UNNAMED \
      --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED \
      --add-opens java.base/java.lang=ALL-UNNAMED \
      --add-opens java.base/java.util=ALL-UNNAMED \
      -Dio.netty.tryReflectionSetAccessible=true \
      -Dio.netty.allocator.useCacheForAllThreads=true -Dio.netty.allocator.maxOrder=11 \
      -Dcassandra.config="file://$dir/cassandra.yaml" \
      -Dlogback.configurationFile="$dir/logback.xml" \
      -Dcassandra.logdir="$dir/logs" -Dcassandra.storagedir="$dir" \
      -Dcassandra-foreground=yes \
      -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=100 \
      -Dcassandra.superuser_setup_delay_ms=0 -Dcassandra.unsafesystem=true \
      -cp "$lib/*" org.apache.cassandra.service.CassandraDaemon \
      > "$dir/logs/stdout.log" 2>&1 < /dev/null &
    echo $! > "$dir/cassandra.pid"
  fi
  local pid t0
  pid="$(cat "$dir/cassandra.pid")"
  t0="$(date +%s%N)"
  while [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 90000 ]; do
    if ready "$native" "$address"; then
      log "Cassandra on $address:$native answers CQL after $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $pid)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "Cassandra exited while starting; the end of $dir/logs/stdout.log and system.log:"
      tail -20 "$dir/logs/stdout.log" >&2 || true
      grep -E "ERROR|Exception" "$dir/logs/system.log" | tail -10 >&2 || true
      return 1
    fi
    sleep 0.25
  done
  log "Cassandra on $address:$native did not answer CQL within 90 s; see $dir/logs"
  return 1
}

stop() {
  local dir="$1" signal="${2:-TERM}" pid i
  [ -f "$dir/cassandra.pid" ] || return 0
  pid="$(cat "$dir/cassandra.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -"$signal" "$pid" 2>/dev/null || true
    for i in $(seq 1 120); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "Cassandra (pid $pid) did not stop in 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/cassandra.pid"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  jars) jars ;;
  start) [ $# -eq 3 ] || { echo "usage: $0 start DIR NATIVE_PORT STORAGE_PORT" >&2; exit 2; }; start "$@" ;;
  ready) [ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 ready NATIVE_PORT [ADDRESS]" >&2; exit 2; }; ready "$@" ;;
  stop) [ $# -eq 1 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$1" ;;
  kill) [ $# -eq 1 ] || { echo "usage: $0 kill DIR" >&2; exit 2; }; stop "$1" KILL ;;
  *) echo "usage: $0 jars | start DIR NATIVE_PORT STORAGE_PORT | ready NATIVE_PORT [ADDRESS] | stop DIR | kill DIR" >&2; exit 2 ;;
esac
