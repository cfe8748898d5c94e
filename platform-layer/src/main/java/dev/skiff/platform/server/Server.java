package dev.skiff.platform.server;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.discovery.Announcer;
import dev.skiff.platform.health.HealthChecks;
import dev.skiff.platform.health.ServiceMonitor;
import dev.skiff.platform.internal.Lifecycle;
import dev.skiff.platform.internal.Observers;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.platform.liveconfig.LiveConfig;
import dev.skiff.platform.liveconfig.LiveConfigOptions;
import dev.skiff.platform.metrics.RpcMetrics;
import dev.skiff.platform.observe.RpcObserver;
import dev.skiff.platform.security.LoginTokenVerifier;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running instance of a service: its endpoints bound to a transport, its handlers on a bounded pool.
 *
 * <pre>{@code
 * Server server = Server.builder("com.example.greeter")
 *     .version("1.0.0")
 *     .transport(AmqpTransport.connect(uri))
 *     .endpoint(Endpoint.of("hello", HelloRequest.class, HelloResponse.class,
 *         (req, ctx) -> HelloResponse.newBuilder().setGreeting("Hello, " + req.getName()).build()))
 *     .build()
 *     .start();
 * }</pre>
 *
 * <p>A request's way through it (docs/architecture.md): the transport delivers it ({@link #dispatch});
 * one whose reply address is not its proven caller's own is refused unanswered (docs/security.md
 * "Hostile input"); the {@link Admission} rules decide whether it is taken (expired: dropped, never started; too big:
 * BAD_REQUEST and set aside; delivered the delivery limit times, unsettled each time: INTERNAL and set
 * aside; waited too long: CAPACITY; unknown endpoint: NOT_FOUND; its body over the bound of the bodies
 * held: CAPACITY), {@link Dedupe} answers a
 * request id already answered or running here (CONFLICT when it was another caller's or another body's), the {@link HandlerPool} runs its handler (and its
 * watchdog answers TIMEOUT to one that overruns its deadline, lending the pool a thread in its place),
 * and the request's {@link ServerCall} answers and settles it exactly once.
 *
 * <p>{@link #close()} drains: it stops taking requests, gives back those not started (another instance
 * takes them), lets running ones finish within the drain grace, answers the rest UNAVAILABLE, then
 * closes. Thread-safe; lifecycle: {@code build() -> start() -> close()}, each at most once
 * ({@link Lifecycle}).
 *
 * <p>Every server is monitored with no code from its author: per-endpoint metrics (unless switched off,
 * see {@link dev.skiff.platform.metrics.MonitoringOptions}), built-in healthchecks (broker, configuration,
 * capacity, one per endpoint against its {@link Endpoint.Sla}), and its health and a metrics summary
 * published on the topic {@code health.SERVICE} (see {@link ServiceMonitor}). Add checks with
 * {@link ServerBuilder#healthCheck} or, at run time, {@link #health()}. It announces itself for
 * discovery ({@link Announcer}) unless told not to. An instance that keeps failing while its peers
 * succeed takes itself out of rotation for a while ({@link ServerBuilder#outlierEjection}).
 */
public final class Server implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Server.class);

  private final String name;
  private final String version;
  private final String description;
  private final String instanceId;
  private final Transport transport;
  private final boolean ownsTransport;
  private final int prefetch;
  private final int maxQueueDepth;
  private final int maxMessageBytes;
  private final long maxInFlightBytes;
  private final Duration drainGrace;
  private final Duration defaultDeadline;
  private final Duration heartbeat;
  private final Map<String, Endpoint<?, ?>> endpoints;
  private final MetricRegistry metrics;
  private final Clock clock;
  private final Lifecycle lifecycle;
  private final Client client;
  private final HealthChecks health;
  private final ServiceMonitor monitor;
  private final Admission admission;
  private final HandlerPool<ServerCall> pool;
  private final Map<String, HandlerPool.Pace> paces = new LinkedHashMap<>();
  private final ServerCall.Site site;
  private final Rotation rotation;
  /** The session tokens this server verified, by their references. */
  private final SessionReferences sessions;
  /** The default token verifier, owned (closed with the server); null when the builder gave one. */
  private final LoginTokenVerifier ownVerifier;
  private volatile Transport.ServerBinding binding;
  private volatile Announcer announcer;
  /** The configuration's own layers, when it follows the config service; null when not. */
  private final LayeredConfig.Builder configLayers;
  private final LiveConfigOptions configOptions;
  private final ConfigValidation configValidation;
  /** Work run as it starts, after its configuration is read and before it takes requests. */
  private final List<Runnable> beforeServing;
  private final ServiceIdentities identities;
  private volatile LiveConfig liveConfig;

  Server(ServerBuilder b) {
    this.name = b.name;
    this.version = b.version;
    this.description = b.description;
    this.instanceId = b.instanceId;
    this.transport = b.transport;
    this.ownsTransport = b.ownsTransport;
    this.prefetch = b.prefetch == 0 ? 2 * b.concurrency : b.prefetch;
    this.maxQueueDepth = b.maxQueueDepth;
    this.maxMessageBytes = b.maxMessageBytes;
    this.maxInFlightBytes = b.maxInFlightBytes;
    this.drainGrace = b.drainGrace;
    this.defaultDeadline = b.defaultDeadline;
    this.heartbeat = b.announce ? b.heartbeat : null;
    this.endpoints = Map.copyOf(b.endpoints);
    this.metrics = b.metrics == null ? new MetricRegistry() : b.metrics;
    this.clock = b.clock;
    this.lifecycle = new Lifecycle("server " + name);
    this.health = b.health;

    RpcMetrics rpc = b.monitoring.metricsEnabled() ? new RpcMetrics(metrics, endpoints.keySet()) : null;
    List<RpcObserver> observed = new ArrayList<>(b.observers);
    if (rpc != null) {
      observed.add(rpc);
    }
    // peers' outcomes come from the per-endpoint metrics in their health reports: none with metrics off
    this.rotation =
        b.outlier == null || rpc == null ? null : new Rotation(name, instanceId, b.outlier, transport, health, metrics, clock);
    if (rotation != null) {
      observed.add(rotation);
    }
    ServiceIdentities identities = b.identities == null ? ServiceIdentities.fromEnvironment() : b.identities;
    this.identities = identities;
    this.configLayers = b.configLayers;
    this.configOptions = b.configOptions;
    this.configValidation = b.configValidation;
    this.beforeServing = List.copyOf(b.beforeServing);
    this.client =
        Client.builder().transport(transport).name(name).instanceId(instanceId).defaultTimeout(b.clientTimeout)
            .maxMessageBytes(b.maxMessageBytes).metrics(metrics).clock(clock).observers(observed).identities(identities).build();
    // the login service's signatures, checked with the keys it publishes; subscribes on the first token only
    this.ownVerifier = b.tokenVerifier != null ? null
        : LoginTokenVerifier.builder().transport(transport).source(new LoginServiceSource(client, b.clientTimeout))
            .identities(identities).metrics(metrics).clock(clock).build();
    TokenVerifier verifier = b.tokenVerifier != null ? b.tokenVerifier : ownVerifier;
    this.sessions = new SessionReferences(SessionReferences.DEFAULT_MAX_BYTES, metrics, clock);
    EndpointGuard guard = new EndpointGuard(name, identities, verifier, sessions, metrics, endpoints.keySet());
    this.admission = new Admission(name, endpoints, b.maxMessageBytes, b.maxQueueWait, b.defaultDeadline, b.maxDeliveries);
    this.pool = new HandlerPool<>(name, b.concurrency, clock);
    for (String e : b.endpoints.keySet()) {
      paces.put(e, new HandlerPool.Pace());
    }
    Dedupe dedupe = new Dedupe(b.dedupeWindow.toMillis(), b.dedupeMaxBytes);
    ServerCounters counters = new ServerCounters(metrics, paces, pool, dedupe, clock);
    this.site = new ServerCall.Site(
        name, version, instanceId, b.maxMessageBytes, clock, client, new Observers(observed), counters, admission, dedupe, guard,
        new SetAsideLog(name, clock));
    String config = (b.settingsApplied ? "settings from the environment" : "settings from code")
        + ": concurrency " + b.concurrency + ", prefetch " + prefetch + ", max message " + b.maxMessageBytes
        + " bytes, max in flight " + b.maxInFlightBytes + " bytes, max deliveries " + b.maxDeliveries
        + ", drain grace " + drainGrace.toMillis() + " ms, metrics " + (rpc != null ? "on" : "off");
    this.monitor =
        new ServiceMonitor(
            new ServiceMonitor.Service(
                name, version, description, instanceId, MonitoredEndpoints.of(endpoints.values(), counters),
                b.concurrency, prefetch, config),
            counters, transport, metrics, health, b.monitoring, rpc, clock);
  }

  /**
   * A builder for a service.
   *
   * @param name the service's dotted name, e.g. {@code com.example.greeter} (see
   *     {@link dev.skiff.platform.Names})
   * @return the builder
   * @throws IllegalArgumentException if the name is not a valid service name
   */
  public static ServerBuilder builder(String name) {
    return new ServerBuilder(name);
  }

  /**
   * Starts taking requests, then starts monitoring and announcing.
   *
   * @return this
   * @throws IllegalStateException if started before, or closed
   * @throws SkiffException UNAVAILABLE when the transport cannot bind the service (the server is then closed)
   */
  public Server start() {
    lifecycle.start(
        () -> {
          if (configLayers != null) {
            // before taking requests: handlers may read the configuration from their first request on
            liveConfig = LiveConfig.start(configLayers, client, transport, identities, metrics, name, configOptions);
            if (configValidation != null) {
              configValidation.serve(liveConfig);
            }
          }
          beforeServing.forEach(Runnable::run);
          binding = transport.bind(
              name, instanceId, new Transport.BindOptions(prefetch, maxQueueDepth, version, maxMessageBytes), this::dispatch);
          Transport.ServerBinding bound = binding;
          pool.holdWritesWith(bound);
          site.counters().setAsideWaiting(bound::setAsideWaiting);
          if (rotation != null) {
            rotation.start(binding);
          }
          monitor.start();
          if (heartbeat != null) {
            announcer = new Announcer(transport, Announcements.of(this, defaultDeadline, clock.millis()), heartbeat, clock).start();
          }
        },
        this::release);
    log.info("{} {} instance {} serving {} on {}", name, version, instanceId, endpoints.keySet(), transport.describe());
    return this;
  }

  /**
   * Where the transport delivers each request: the request path, top-down (see the class comment).
   * Runs on a transport thread; never blocks.
   */
  private void dispatch(RequestMessage req, Transport.Delivery delivery) {
    if (!delivery.replyAddressAllowed()) {
      // before anything that answers: no reply, not even an error, goes where the caller may not receive
      new ServerCall(site, req, delivery).refuseReplyAddress();
      return;
    }
    if (delivery.overflowed()) {
      // not a request to run: one the full queue refused, answered whatever this server's state
      ServerCall refused = new ServerCall(site, req, delivery);
      Admission.Verdict verdict = admission.onOverflow(req, clock.millis());
      if (verdict.decision() == Admission.Decision.DROP) {
        refused.drop();
      } else {
        refused.refuse(verdict);
      }
      return;
    }
    if (!lifecycle.isRunning()) {
      ServerCall.handBack(site, req, delivery);
      return;
    }
    if (req.userTokenReference() != null && req.userToken() == null) {
      String token = sessions.resolve(req.userId(), req.userTokenReference());
      if (token == null) {
        new ServerCall(site, req, delivery).sessionUnknown();
        return;
      }
      req = req.withResolvedToken(token);
    }
    long now = clock.millis();
    ServerCall call = new ServerCall(site, req, delivery);
    long discarded = delivery.discardedBodyBytes();
    Admission.Verdict verdict = admission.onArrival(req, discarded > 0 ? discarded : req.body().length, delivery.deliveries(), now);
    switch (verdict.decision()) {
      case DROP -> {
        call.drop();
        return;
      }
      case REFUSE -> {
        call.refuse(verdict);
        return;
      }
      case SET_ASIDE -> {
        call.setAside(verdict);
        return;
      }
      case ADMIT -> {
        // on below
      }
    }
    if (!call.reserveBytes(maxInFlightBytes)) {
      call.refuse(admission.overInFlightBytes(req.body().length, site.counters().heldBytes(), maxInFlightBytes));
      return;
    }
    Endpoint<?, ?> endpoint = verdict.endpoint();
    call.admitted(endpoint, verdict.deadlineMillis());
    String key = call.dedupeKey();
    if (key != null) {
      Dedupe.Role role = site.dedupe().join(call, key, now);
      if (role != Dedupe.Role.FIRST) {
        if (role != Dedupe.Role.CONFLICT) {
          site.counters().dedupeHit();
        }
        return;
      }
    }
    Admission.Verdict redelivery = admission.onRedelivery(endpoint, req, delivery.redelivered());
    if (redelivery != null) {
      call.refuse(redelivery);
      return;
    }
    call.hold();
    if (endpoint.nonBlocking()) {
      pool.runInline(call);
      return;
    }
    try {
      pool.submit(call, paces.get(endpoint.name()));
    } catch (RejectedExecutionException e) {
      call.handBack();
    }
  }

  /**
   * This service's configuration, followed live from the config service (docs/configuration.md,
   * "Delivery"): read values with {@code config().current()}, follow changes with
   * {@code config().onChange(prefix, listener)}.
   *
   * @return the configuration
   * @throws IllegalStateException when the server does not follow the config service
   *     ({@link ServerBuilder#liveConfig()}) or is not started
   */
  public LayeredConfig config() {
    LiveConfig c = liveConfig;
    if (c == null) {
      throw new IllegalStateException(configLayers == null
          ? name + " does not follow the config service: build it with liveConfig() or a configValidator"
          : name + " is not started: its configuration is read when it starts");
    }
    return c.config();
  }

  /** @return the service's name */
  public String name() {
    return name;
  }

  /** @return the version this instance reports */
  public String version() {
    return version;
  }

  /** @return the service's description */
  public String description() {
    return description;
  }

  /** @return this instance's id */
  public String instanceId() {
    return instanceId;
  }

  /** @return the endpoints, by name */
  public Map<String, Endpoint<?, ?>> endpoints() {
    return endpoints;
  }

  /** @return the registry holding this server's (and its client's) metrics */
  public MetricRegistry metrics() {
    return metrics;
  }

  /**
   * This service's healthchecks: where service-layer clients and the author register checks at run
   * time (see {@link HealthChecks}).
   *
   * @return the registry
   */
  public HealthChecks health() {
    return health;
  }

  /** @return the monitor that runs the checks and publishes this instance's health */
  public ServiceMonitor monitor() {
    return monitor;
  }

  /** @return a client that calls as this service; handlers should prefer {@link RequestContext#client()} */
  public Client client() {
    return client;
  }

  /** @return whether the server has been closed */
  public boolean isClosed() {
    return lifecycle.isClosed();
  }

  /**
   * Blocks until the server is closed.
   *
   * @throws InterruptedException if interrupted while waiting
   */
  public void awaitTermination() throws InterruptedException {
    lifecycle.awaitClosedInterruptibly();
  }

  /**
   * Stops the server, draining in-flight requests for up to the drain grace (see the class comment).
   * Idempotent; returns when the server is closed.
   */
  @Override
  public void close() {
    switch (lifecycle.beginClose()) {
      case NEW -> {
        release();
        lifecycle.closed();
      }
      case RUNNING -> {
        drain();
        release();
        lifecycle.closed();
        log.info("{} instance {} stopped", name, instanceId);
      }
      default -> {
        // closed by another caller, who has finished
      }
    }
  }

  /** Stops announcing and taking requests, hands back the unstarted ones, lets the running ones finish. */
  private void drain() {
    Announcer a = announcer;
    if (a != null) {
      a.close();
    }
    if (rotation != null) {
      rotation.close(); // never resumes a draining server
    }
    Transport.ServerBinding b = binding;
    b.stopConsuming();
    for (ServerCall unstarted : pool.shutdown()) {
      unstarted.handBack();
    }
    try {
      if (!pool.awaitTermination(drainGrace)) {
        for (ServerCall running : pool.inFlightTasks()) {
          running.fail(
              new SkiffException(ErrorCode.UNAVAILABLE, name + " stopped before the request finished (drain grace " + drainGrace + ")"));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    b.close();
  }

  /** Releases what the server owns: threads, its client, its monitor, and its transport if it owns it. */
  private void release() {
    if (rotation != null) {
      rotation.close();
    }
    monitor.close();
    LiveConfig c = liveConfig;
    if (c != null) {
      c.close();
    }
    pool.shutdownNow();
    if (ownVerifier != null) {
      ownVerifier.close();
    }
    client.close();
    if (ownsTransport) {
      transport.close();
    }
  }
}
