package dev.skiff.platform.server;

import com.codahale.metrics.MetricRegistry;
import com.google.protobuf.Message;
import dev.skiff.platform.Names;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.HealthChecks;
import dev.skiff.platform.internal.Ids;
import dev.skiff.platform.liveconfig.ConfigServiceLayer;
import dev.skiff.platform.liveconfig.LiveConfigOptions;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.observe.RpcObserver;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.transport.Transport;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Builds a {@link Server}: {@code Server.builder("com.example.greeter")}. Setters check their argument and
 * name it when it is wrong; {@link #build()} does no I/O (the server connects nothing until
 * {@link Server#start()}).
 */
public final class ServerBuilder {
  final String name;
  String version = "0.0.0";
  String description = "";
  String instanceId = Ids.random32();
  Transport transport;
  boolean ownsTransport;
  int concurrency = 16;
  int prefetch;
  int maxMessageBytes = Settings.DEFAULT_MAX_MESSAGE_BYTES;
  Duration drainGrace = Duration.ofSeconds(10);
  Duration defaultDeadline = Duration.ofSeconds(30);
  Duration clientTimeout = Duration.ofSeconds(5);
  int maxQueueDepth;
  long maxInFlightBytes = Settings.DEFAULT_MAX_IN_FLIGHT_BYTES;
  int maxDeliveries = Settings.DEFAULT_MAX_DELIVERIES;
  Duration maxQueueWait;
  Duration dedupeWindow = Duration.ofMinutes(1);
  long dedupeMaxBytes = 16L << 20;
  MetricRegistry metrics;
  boolean announce = true;
  Duration heartbeat = dev.skiff.platform.discovery.Announcer.DEFAULT_HEARTBEAT;
  Clock clock = Clock.systemUTC();
  final Map<String, Endpoint<?, ?>> endpoints = new LinkedHashMap<>();
  final List<RpcObserver> observers = new ArrayList<>();
  final HealthChecks health = new HealthChecks();
  MonitoringOptions monitoring = MonitoringOptions.defaults();
  OutlierOptions outlier = OutlierOptions.defaults();
  boolean settingsApplied;
  ServiceIdentities identities;
  TokenVerifier tokenVerifier;
  LayeredConfig.Builder configLayers;
  LiveConfigOptions configOptions;
  final List<Consumer<Config>> configValidators = new ArrayList<>();
  ConfigValidation configValidation;
  final List<Runnable> beforeServing = new ArrayList<>();

  ServerBuilder(String name) {
    this.name = Names.checkService(name);
  }

  /**
   * Whether the instance announces itself for discovery (docs/routing.md): on start, at every
   * heartbeat, and on a clean stop. Default on; with no discovery service running the announcements
   * are dropped.
   *
   * @param announce false to stay silent
   * @return this
   */
  public ServerBuilder announce(boolean announce) {
    this.announce = announce;
    return this;
  }

  /**
   * How often the instance announces itself (default 2 s); discovery forgets an instance after
   * three missed heartbeats, so this also sets how soon a killed instance leaves the registry.
   *
   * @param interval the heartbeat interval
   * @return this
   */
  public ServerBuilder heartbeat(Duration interval) {
    Objects.requireNonNull(interval, "interval");
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("heartbeat must be positive: " + interval);
    }
    this.heartbeat = interval;
    return this;
  }

  /** @param version the version this instance reports, e.g. {@code 1.2.0} @return this */
  public ServerBuilder version(String version) {
    this.version = Names.checkVersion(Objects.requireNonNull(version, "version"));
    return this;
  }

  /** @param description what the service does, in a sentence @return this */
  public ServerBuilder description(String description) {
    this.description = Objects.requireNonNull(description, "description");
    return this;
  }

  /** @param instanceId this instance's id (default: random) @return this */
  public ServerBuilder instanceId(String instanceId) {
    this.instanceId = Names.checkInstance(Objects.requireNonNull(instanceId, "instanceId"));
    return this;
  }

  /**
   * The transport to serve on; the server does not close it unless {@link #ownTransport()} is called.
   *
   * @param transport the transport
   * @return this
   */
  public ServerBuilder transport(Transport transport) {
    this.transport = Objects.requireNonNull(transport, "transport");
    return this;
  }

  /** @return this, with the server closing its transport when it closes */
  public ServerBuilder ownTransport() {
    this.ownsTransport = true;
    return this;
  }

  /**
   * Applies the environment's settings ({@link Settings}): version override, instance id, bounds,
   * timeouts, and outlier ejection switched off if they say so. The broker URI is not applied here: pass it to {@link #amqp(String)}.
   *
   * @param s the settings
   * @return this
   */
  public ServerBuilder settings(Settings s) {
    s.serviceVersion().ifPresent(this::version);
    s.instanceId().ifPresent(this::instanceId);
    concurrency(s.concurrency());
    prefetch(s.prefetch());
    maxMessageBytes(s.maxMessageBytes());
    maxInFlightBytes(s.maxInFlightBytes());
    maxDeliveries(s.maxDeliveries());
    try {
      clientTimeout(s.defaultTimeout());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("SKIFF_DEFAULT_TIMEOUT must be at most 720h (30 days), not "
          + dev.skiff.platform.config.Durations.text(s.defaultTimeout()), e);
    }
    drainGrace(s.drainGrace());
    settingsApplied = true;
    heartbeat(s.heartbeat());
    if (!s.outlierEjection()) {
      outlierEjection(null);
    }
    return this;
  }

  /** @param n how many handlers run at once (default 16) @return this */
  public ServerBuilder concurrency(int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("concurrency must be positive: " + n);
    }
    this.concurrency = n;
    return this;
  }

  /** @param n unsettled requests held per queue (default 2 × concurrency) @return this */
  public ServerBuilder prefetch(int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("prefetch must be positive: " + n);
    }
    this.prefetch = n;
    return this;
  }

  /** @param bytes the largest request or response body (default 4 MiB) @return this */
  public ServerBuilder maxMessageBytes(int bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("maxMessageBytes must be positive: " + bytes);
    }
    this.maxMessageBytes = bytes;
    return this;
  }

  /**
   * Bounds the memory the request bodies this instance holds take: the bodies of the requests taken and
   * not yet answered, waiting for a handler or running. A request that would take it past the bound is
   * answered CAPACITY at once (one request is always taken when none is held, so a single request up to
   * {@link #maxMessageBytes} is never refused for this).
   *
   * @param bytes the bound (default 64 MiB)
   * @return this
   */
  public ServerBuilder maxInFlightBytes(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("maxInFlightBytes must be positive: " + bytes);
    }
    this.maxInFlightBytes = bytes;
    return this;
  }

  /**
   * How many times a request may reach an instance of the service before it is set aside (dead-lettered,
   * docs/security.md "Hostile input"): a request whose earlier deliveries all ended without an answer
   * (each instance that took it died, or lost its connection) is not handed to a handler again once it
   * has been handed over this many times.
   *
   * @param n the limit (default 5)
   * @return this
   */
  public ServerBuilder maxDeliveries(int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("maxDeliveries must be positive: " + n);
    }
    this.maxDeliveries = n;
    return this;
  }

  /** @param grace how long close() lets running requests finish (default 10 s) @return this */
  public ServerBuilder drainGrace(Duration grace) {
    if (grace.isNegative()) {
      throw new IllegalArgumentException("drainGrace must not be negative: " + grace);
    }
    this.drainGrace = grace;
    return this;
  }

  /** @param d the deadline given to requests that carry none (default 30 s) @return this */
  public ServerBuilder defaultDeadline(Duration d) {
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("defaultDeadline must be positive: " + d);
    }
    this.defaultDeadline = d;
    return this;
  }

  /**
   * @param t the default timeout of calls this service makes (default 5 s; at most
   *     {@link dev.skiff.platform.client.CallOptions#MAX_TIMEOUT})
   * @return this
   */
  public ServerBuilder clientTimeout(Duration t) {
    if (t.isNegative() || t.isZero() || t.compareTo(dev.skiff.platform.client.CallOptions.MAX_TIMEOUT) > 0) {
      throw new IllegalArgumentException("clientTimeout must be positive and at most 30 days: " + t);
    }
    this.clientTimeout = t;
    return this;
  }

  /**
   * Bounds the service's queue: past this many waiting requests, new ones are refused at once and the
   * caller gets CAPACITY (RabbitMQ {@code x-max-length} with {@code reject-publish-dlx}: the broker puts
   * each refused request into the service's refusal queue, and its instances answer it; a quorum queue
   * refuses its oldest waiting request instead). Fixed when the service's queue is first created; every
   * instance must declare the same value.
   *
   * @param depth the bound, or 0 for none (the default)
   * @return this
   */
  public ServerBuilder maxQueueDepth(int depth) {
    if (depth < 0) {
      throw new IllegalArgumentException("maxQueueDepth must not be negative: " + depth);
    }
    this.maxQueueDepth = depth;
    return this;
  }

  /**
   * Answers CAPACITY, without running the handler, to a request that waited longer than this in the
   * queue: the service is behind, and the caller learns it while it still has time to do something.
   *
   * @param wait the longest wait, or null for no bound (the default)
   * @return this
   */
  public ServerBuilder maxQueueWait(Duration wait) {
    if (wait != null && (wait.isNegative() || wait.isZero())) {
      throw new IllegalArgumentException("maxQueueWait must be positive: " + wait);
    }
    this.maxQueueWait = wait;
    return this;
  }

  /**
   * How long an answer is kept by request id, so that a retry or a redelivery of a request this
   * instance already answered gets the same answer without the handler running again.
   *
   * @param window how long (default 1 minute)
   * @param maxBytes the most memory the kept answers may take (default 16 MiB); the oldest go first
   * @return this
   */
  public ServerBuilder dedupe(Duration window, long maxBytes) {
    if (window.isNegative() || window.isZero() || maxBytes < 1024 || maxBytes > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "dedupe window must be positive and its size between 1 KiB and 2 GiB: " + window + ", " + maxBytes);
    }
    this.dedupeWindow = window;
    this.dedupeMaxBytes = maxBytes;
    return this;
  }

  /**
   * Adds an observer of every request this server finishes and every call its handlers make (for
   * metrics, tracing, health).
   *
   * @param observer the observer
   * @return this
   */
  public ServerBuilder observer(RpcObserver observer) {
    observers.add(Objects.requireNonNull(observer, "observer"));
    return this;
  }

  /**
   * Registers a healthcheck, run at the interval and reported with the priority it declares.
   *
   * @param name a name unique in this service
   * @param check the check
   * @return this
   * @throws IllegalArgumentException if the name is taken or invalid
   */
  public ServerBuilder healthCheck(String name, HealthCheck check) {
    health.register(name, check);
    return this;
  }

  /**
   * The healthchecks of the server being built: the same registry as its {@link Server#health()}, which
   * its health thread runs and publishes. A check registered here at any time (while the server is built,
   * as it starts in {@link #beforeServing} work such as {@link SkiffService}'s {@code prepare}, or while
   * it serves) is run and published from then on; one unregistered is no longer. For bridges that follow
   * another registry ({@code dev.skiff.service.health.PlatformHealth}).
   *
   * @return the registry
   */
  public HealthChecks health() {
    return health;
  }

  /**
   * Sets when this instance takes itself out of rotation: when it fails most of the requests it takes
   * while its peers, the other instances of the service, succeed (see {@link OutlierOptions}). Out of
   * rotation it takes no requests (they go to its peers), its healthcheck {@code rotation} fails and its
   * gauge {@code skiff.server.rotation.in} reads 0; after the ejection time it comes back once its other
   * healthchecks pass. On by default with {@link OutlierOptions#defaults()}; off when metrics are off
   * ({@link MonitoringOptions#withMetrics}), since the peers' outcomes come from their metrics.
   *
   * @param options the options, or null to switch it off
   * @return this
   */
  public ServerBuilder outlierEjection(OutlierOptions options) {
    this.outlier = options;
    return this;
  }

  /**
   * Sets which broker user may act as which service, for its own client's reply checks and for its
   * endpoints' {@link dev.skiff.platform.security.Access} rules. Default:
   * {@link ServiceIdentities#fromEnvironment()}.
   *
   * @param identities the mapping
   * @return this
   */
  public ServerBuilder identities(ServiceIdentities identities) {
    this.identities = Objects.requireNonNull(identities, "identities");
    return this;
  }

  /**
   * Sets how the session tokens of people are checked. Default: a
   * {@link dev.skiff.platform.security.LoginTokenVerifier} of the server's own (closed with it): the login
   * service's signatures, checked with the public keys it publishes, ended sessions refused at once
   * (docs/security.md).
   *
   * @param verifier the verifier (not owned: the server does not close it)
   * @return this
   */
  public ServerBuilder tokenVerifier(TokenVerifier verifier) {
    this.tokenVerifier = Objects.requireNonNull(verifier, "verifier");
    return this;
  }

  /**
   * Sets how the server is monitored: metrics on or off, Graphite, how often health is published.
   * Default: {@link MonitoringOptions#defaults()}; {@link SkiffService} applies the environment's
   * ({@link MonitoringOptions#fromEnvironment()}: {@code SKIFF_METRICS}, {@code SKIFF_GRAPHITE}, ...).
   *
   * @param options the options
   * @return this
   */
  public ServerBuilder monitoring(MonitoringOptions options) {
    this.monitoring = Objects.requireNonNull(options, "options");
    return this;
  }

  /**
   * @param metrics where the server's metrics go, with anything else of the service's that should be
   *     reported beside them (default: a registry of the server's own): its health reports take their
   *     transport and capacity figures from it, and Graphite reporting sends all of it. One registry per
   *     server: two servers on one report each other's figures, and a gauge shows the first server's alone
   * @return this
   */
  public ServerBuilder metrics(MetricRegistry metrics) {
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    return this;
  }

  /** @param clock the clock deadlines are measured by (for tests) @return this */
  public ServerBuilder clock(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
    return this;
  }

  /**
   * Adds an endpoint.
   *
   * @param endpoint the endpoint
   * @return this
   * @throws IllegalArgumentException if an endpoint of that name exists
   */
  public ServerBuilder endpoint(Endpoint<?, ?> endpoint) {
    if (endpoints.putIfAbsent(endpoint.name(), endpoint) != null) {
      throw new IllegalArgumentException("endpoint '" + endpoint.name() + "' is registered twice in " + name);
    }
    return this;
  }

  /**
   * Adds an endpoint.
   *
   * @param name the endpoint's name
   * @param requestType the request class
   * @param responseType the response class
   * @param handler the code
   * @param <Q> the request type
   * @param <R> the response type
   * @return this
   */
  public <Q extends Message, R extends Message> ServerBuilder endpoint(
      String name, Class<Q> requestType, Class<R> responseType, Handler<Q, R> handler) {
    return endpoint(Endpoint.of(name, requestType, responseType, handler));
  }

  /**
   * Follows this service's configuration in the config service ({@value ConfigServiceLayer#SERVICE}), with
   * the region and environment the process's environment names ({@link LiveConfigOptions#fromEnvironment()}):
   * {@link Server#config()} is then the environment and system properties over the config service's view
   * (docs/configuration.md, "Delivery"). {@link SkiffService} does this unless {@code SKIFF_CONFIG_SERVICE=off}.
   *
   * @return this
   */
  public ServerBuilder liveConfig() {
    return liveConfig(LayeredConfig.builder(), LiveConfigOptions.fromEnvironment());
  }

  /**
   * Follows this service's configuration in the config service, above the given layers: {@link Server#config()}
   * is, later winning, {@code layers}' defaults, files and sources, the config service's view, then the
   * environment and system properties. {@link Server#start()} reads it (waiting for the config service up
   * to {@link LiveConfigOptions#firstRead()}, else starting from the last good copy) and fails when the
   * result is invalid.
   *
   * @param layers the service's own layers (the builder is completed and built at start)
   * @param options region, environment, where the last good copy is kept
   * @return this
   */
  public ServerBuilder liveConfig(LayeredConfig.Builder layers, LiveConfigOptions options) {
    this.configLayers = Objects.requireNonNull(layers, "layers");
    this.configOptions = Objects.requireNonNull(options, "options");
    return this;
  }

  /**
   * Adds a check every configuration of this service must pass: at start, on every change, and before
   * the config service records a change that would reach this service (it asks a running instance
   * through the endpoint {@code config.validate}, offered to {@value ConfigServiceLayer#SERVICE} only, and
   * refuses the change with this service's reason). Implies {@link #liveConfig()} when no live
   * configuration was chosen.
   *
   * @param validator throws {@link dev.skiff.platform.config.ConfigException} or
   *     {@link IllegalArgumentException} to refuse, with a message saying why
   * @return this
   */
  public ServerBuilder configValidator(Consumer<Config> validator) {
    configValidators.add(Objects.requireNonNull(validator, "validator"));
    return this;
  }

  /**
   * Takes the validators added so far away from this builder, for a configuration of the caller's
   * ({@link SkiffService}'s own when it follows no config service): they no longer imply
   * {@link #liveConfig()}.
   *
   * @return the validators, in the order added
   */
  List<Consumer<Config>> takeConfigValidators() {
    List<Consumer<Config>> taken = List.copyOf(configValidators);
    configValidators.clear();
    return taken;
  }

  /**
   * Runs work as the server starts, once its configuration is read ({@link Server#config()}, with
   * {@link #liveConfig()}) and before it takes requests: what its handlers need, opened from that
   * configuration (stores, clients). Work added first runs first. A failure ends the start: the server is
   * closed and {@link Server#start()} throws it.
   *
   * @param work the work
   * @return this
   */
  public ServerBuilder beforeServing(Runnable work) {
    beforeServing.add(Objects.requireNonNull(work, "work"));
    return this;
  }

  /**
   * Builds the server (not started).
   *
   * @return the server
   */
  public Server build() {
    if (transport == null) {
      throw new IllegalStateException("a transport is required: call transport(...)");
    }
    if (endpoints.isEmpty()) {
      throw new IllegalStateException("service " + name + " has no endpoints");
    }
    if (!configValidators.isEmpty()) {
      if (configLayers == null) {
        liveConfig();
      }
      configValidators.forEach(configLayers::validator);
      if (configValidation == null) {
        configValidation = new ConfigValidation();
        endpoint(configValidation.endpoint());
      }
    }
    return new Server(this);
  }
}
