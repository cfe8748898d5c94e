# Sourced by the project's scripts: install, start and stop the services the tests need, idempotently.
# A service that was already running is left running; one that these functions started is stopped by
# stop_started_services (call it from an EXIT trap).

SKIFF_STARTED_SERVICES=()

log() { printf '[skiff] %s\n' "$*" >&2; }

apt_install() {
  local pkgs=("$@")
  if [ "$(id -u)" -ne 0 ]; then
    log "need root to install ${pkgs[*]} (apt-get); install them and run again"
    return 1
  fi
  if [ -z "${SKIFF_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    SKIFF_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
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
  local i
  for i in $(seq 1 60); do
    if rabbitmq_ready; then
      log "RabbitMQ ready after ${i}s"
      SKIFF_STARTED_SERVICES+=(rabbitmq)
      ensure_rabbitmq_plugins
      return $?
    fi
    sleep 1
  done
  log "RabbitMQ did not become ready in 60 s"
  return 1
}

# Plugins that ship with RabbitMQ and that Skiff uses: the consistent-hash exchange splits a routed
# service's traffic between its versions (docs/routing.md). Enabling is idempotent and works online.
ensure_rabbitmq_plugins() {
  if rabbitmq-plugins list -e -m 2>/dev/null | grep -qx rabbitmq_consistent_hash_exchange; then
    return 0
  fi
  log "enabling RabbitMQ plugin rabbitmq_consistent_hash_exchange"
  rabbitmq-plugins enable rabbitmq_consistent_hash_exchange >/dev/null 2>&1 \
    || { log "could not enable rabbitmq_consistent_hash_exchange (version routing needs it)"; return 1; }
}

stop_started_services() {
  local s
  for s in "${SKIFF_STARTED_SERVICES[@]}"; do
    case "$s" in
      rabbitmq) log "stopping RabbitMQ (started by this script)"; rabbitmqctl -q stop >/dev/null 2>&1 || true ;;
    esac
  done
  SKIFF_STARTED_SERVICES=()
}
