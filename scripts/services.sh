# Sourced by the project's scripts: install, start and stop the services the tests need, idempotently.
# A service that was already running is left running; one that these functions started is stopped by
# stop_started_services (call it from an EXIT trap).

SKIFF_TEST_VHOST=""
SKIFF_TEST_VHOSTS=""

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

apt_install() {
  local pkgs=("$@")
  if [ "$(id -u)" -ne 0 ]; then
    log "need root to install ${pkgs[*]} (apt-get); install them and run again"
    return 1
  fi
  if [ -z "${SKIFF_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
    SKIFF_APT_UPDATED=1
  fi
  # another apt-get (the machine's own, or another run's) may hold dpkg's lock: wait for it
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${pkgs[@]}" >/dev/null
}

# Runs the given ensure_* steps holding a lock shared by every test run on this machine, so that two runs
# starting at once (CI beside a developer's build) never install or start the same service together.
ensure_services() {
  mkdir -p "$SKIFF_SERVICES_DIR"
  exec 8>"$SKIFF_SERVICES_DIR/ensure.lock"
  flock 8
  local step
  for step in "$@"; do
    "$step" || { flock -u 8; return 1; }
  done
  flock -u 8
}

rabbitmq_ready() {
  rabbitmqctl -q await_startup --timeout 1 >/dev/null 2>&1 \
    && (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null
}

ensure_rabbitmq() {
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    log "installing RabbitMQ (Debian package rabbitmq-server)"
    apt_install rabbitmq-server
  fi
  # The node name must resolve; pin it to localhost unless the machine configured one.
  if [ -w /etc/rabbitmq ] && ! grep -qs '^NODENAME=' /etc/rabbitmq/rabbitmq-env.conf; then
    printf 'NODENAME=rabbit@localhost\n' >> /etc/rabbitmq/rabbitmq-env.conf
  fi
  if rabbitmq_ready; then
    log "RabbitMQ already running"
    ensure_rabbitmq_plugins
    return $?
  fi
  log "starting RabbitMQ"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  await_up RabbitMQ 60 "" "" rabbitmq_ready || return 1
  note_started rabbitmq
  ensure_rabbitmq_plugins
}

# Gives this test run a RabbitMQ virtual host of its own, so that two runs on one broker (two checkouts,
# or CI beside a developer's build) never see each other's queues, routing rules or binding leader, and
# a run leaves nothing behind: the vhost is deleted when the run ends. Virtual hosts left by runs that
# were killed (their process is gone) are deleted first. Sets SKIFF_TEST_VHOST to the new vhost; called
# again (with a LABEL to tell them apart: scripts/test.sh's lanes), it adds another, and every one is
# deleted at the end.
ensure_test_vhost() {
  local v pid
  for v in $(rabbitmqctl -q list_vhosts name 2>/dev/null | grep '^skiff-test-' || true); do
    pid="${v##*-}"
    if ! kill -0 "$pid" 2>/dev/null; then
      rabbitmqctl -q delete_vhost "$v" >/dev/null 2>&1 && log "deleted vhost $v left by an earlier run"
    fi
  done
  # the run's pid stays last: the clean-up above reads it from there
  SKIFF_TEST_VHOST="skiff-test-$(date +%s)-${1:+$1-}$$"
  rabbitmqctl -q add_vhost "$SKIFF_TEST_VHOST" >/dev/null \
    && rabbitmqctl -q set_permissions -p "$SKIFF_TEST_VHOST" guest '.*' '.*' '.*' >/dev/null \
    || { log "could not create the test run's vhost $SKIFF_TEST_VHOST"; return 1; }
  SKIFF_TEST_VHOSTS="$SKIFF_TEST_VHOSTS $SKIFF_TEST_VHOST"
  log "this run's RabbitMQ vhost${1:+ for $1}: $SKIFF_TEST_VHOST (deleted at the end)"
}

ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then
    return 0
  fi
  log "installing Chromium (Debian packages chromium, chromium-driver) for the browser tests"
  apt_install chromium chromium-driver
}

# Where the services these functions start keep their data, logs and pid files.
SKIFF_SERVICES_DIR="$(services_dir)"
SKIFF_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# memcached answers the text protocol's "version" with "VERSION x.y.z".
memcached_ready() {
  tcp_ask "${1:-11211}" 'version\r\n' 'head -c 8' | grep -q '^VERSION'
}

ensure_memcached() {
  local port=11211 dir="$SKIFF_SERVICES_DIR/memcached"
  if memcached_ready "$port"; then
    log "memcached already running on $port"
    return 0
  fi
  if ! command -v memcached >/dev/null 2>&1; then
    log "installing memcached (Debian package memcached)"
    apt_install memcached
  fi
  if memcached_ready "$port"; then
    log "memcached already running on $port (started by its package)"
    return 0
  fi
  mkdir -p "$dir"
  local user=()
  if [ "$(id -u)" -eq 0 ]; then
    # as root memcached must drop privileges, and writes its pid file after it has
    user=(-u memcache)
    chown memcache "$dir" 2>/dev/null || chmod 777 "$dir"
  fi
  log "starting memcached on 127.0.0.1:$port"
  memcached -d "${user[@]}" -l 127.0.0.1 -p "$port" -m 64 -P "$dir/memcached.pid"
  # (its pid file comes after it drops privileges: not watched)
  await_up memcached 10 "" "" memcached_ready "$port" || return 1
  note_started memcached
}

# "srvr" answers only once the server serves ("ruok" says imok earlier than that).
zookeeper_ready() {
  tcp_ask "${1:-2181}" srvr | grep -qE '^Mode: (standalone|leader|follower)'
}

ensure_zookeeper() {
  local port=2181 dir="$SKIFF_SERVICES_DIR/zookeeper"
  if zookeeper_ready "$port"; then
    log "ZooKeeper already running on $port"
    return 0
  fi
  if [ ! -f /usr/share/java/zookeeper.jar ]; then
    log "installing ZooKeeper (Debian package zookeeper)"
    apt_install zookeeper
  fi
  mkdir -p "$dir/data"
  cat > "$dir/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok
forceSync=no
CFG
  log "starting ZooKeeper on 127.0.0.1:$port"
  nohup java -Xmx256m -Dzookeeper.log.dir="$dir" -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" > "$dir/zookeeper.log" 2>&1 < /dev/null &
  echo $! > "$dir/zookeeper.pid"
  await_up ZooKeeper 30 "$dir/zookeeper.pid" "$dir/zookeeper.log" zookeeper_ready "$port" || return 1
  note_started zookeeper
}

# Cassandra 5.0 from Maven Central's cassandra-all jars, as its own JVM (scripts/cassandra/cassandra.sh).
ensure_cassandra() {
  local port=9042 dir="$SKIFF_SERVICES_DIR/cassandra"
  if bash "$SKIFF_SCRIPTS_DIR/cassandra/cassandra.sh" ready "$port"; then
    log "Cassandra already running on $port"
    return 0
  fi
  bash "$SKIFF_SCRIPTS_DIR/cassandra/cassandra.sh" start "$dir" "$port" 7000 || return 1
  note_started cassandra
}

# Plugins that ship with RabbitMQ and that Skiff uses: the consistent-hash exchange splits a routed
# service's traffic between its versions (docs/routing.md); the management plugin's HTTP API (port 15672)
# is how 'skiff credentials' manages broker users (docs/security.md). Enabling is idempotent and works
# online. (The private brokers of the fault tests have enabled_plugins files of their own.)
ensure_rabbitmq_plugins() {
  local p enabled
  enabled="$(rabbitmq-plugins list -e -m 2>/dev/null || true)"
  for p in rabbitmq_consistent_hash_exchange rabbitmq_management; do
    if printf '%s\n' "$enabled" | grep -qx "$p"; then
      continue
    fi
    log "enabling RabbitMQ plugin $p"
    rabbitmq-plugins enable "$p" >/dev/null 2>&1 \
      || { log "could not enable $p (docs/routing.md, docs/security.md)"; return 1; }
  done
}

# Several runs may share the services (two checkouts testing at once): each run marks itself in
# $SKIFF_SERVICES_DIR/runs, services any run started are listed in $SKIFF_SERVICES_DIR/started, and the
# last run to end stops them. A service that was running before any run started is never stopped.
note_started() {
  mkdir -p "$SKIFF_SERVICES_DIR"
  echo "$1" >> "$SKIFF_SERVICES_DIR/started"
}

register_run() {
  mkdir -p "$SKIFF_SERVICES_DIR/runs"
  touch "$SKIFF_SERVICES_DIR/runs/$$"
}

stop_started_services() {
  local s i run v live=0
  for v in $SKIFF_TEST_VHOSTS; do
    rabbitmqctl -q delete_vhost "$v" >/dev/null 2>&1 || true
  done
  SKIFF_TEST_VHOSTS=""
  SKIFF_TEST_VHOST=""
  mkdir -p "$SKIFF_SERVICES_DIR/runs"
  exec 9>"$SKIFF_SERVICES_DIR/lock"
  flock 9
  rm -f "$SKIFF_SERVICES_DIR/runs/$$"
  for run in "$SKIFF_SERVICES_DIR"/runs/*; do
    [ -e "$run" ] || continue
    if kill -0 "${run##*/}" 2>/dev/null; then live=$((live + 1)); else rm -f "$run"; fi
  done
  if [ "$live" -gt 0 ]; then
    [ -s "$SKIFF_SERVICES_DIR/started" ] && log "leaving the services running for $live other test run(s)"
    flock -u 9
    return 0
  fi
  local started=()
  [ -f "$SKIFF_SERVICES_DIR/started" ] && mapfile -t started < "$SKIFF_SERVICES_DIR/started"
  # the last started first
  for (( i=${#started[@]}-1; i>=0; i-- )); do
    s="${started[$i]}"
    case "$s" in
      rabbitmq) log "stopping RabbitMQ (started by this script)"; rabbitmqctl -q stop >/dev/null 2>&1 || true ;;
      memcached)
        log "stopping memcached (started by this script)"
        # memcached writes its pid file after dropping privileges: give it a moment if just started
        local j
        for j in $(seq 1 20); do [ -s "$SKIFF_SERVICES_DIR/memcached/memcached.pid" ] && break; sleep 0.1; done
        kill "$(cat "$SKIFF_SERVICES_DIR/memcached/memcached.pid" 2>/dev/null)" 2>/dev/null || true ;;
      zookeeper)
        log "stopping ZooKeeper (started by this script)"
        kill "$(cat "$SKIFF_SERVICES_DIR/zookeeper/zookeeper.pid" 2>/dev/null)" 2>/dev/null || true ;;
      cassandra)
        log "stopping Cassandra (started by this script)"
        bash "$SKIFF_SCRIPTS_DIR/cassandra/cassandra.sh" stop "$SKIFF_SERVICES_DIR/cassandra" || true ;;
    esac
  done
  rm -f "$SKIFF_SERVICES_DIR/started"
  flock -u 9
}
