package dev.skiff.platform.health;

import dev.skiff.platform.internal.Counts;
import dev.skiff.platform.internal.Lifecycle;
import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Snapshot;
import com.codahale.metrics.Timer;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.metrics.GraphiteReporting;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.metrics.RpcMetrics;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.CheckResult;
import dev.skiff.proto.v1.EndpointStats;
import dev.skiff.proto.v1.HealthReport;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a server does for its health with no code from its author: registers the built-in checks
 * (broker, configuration, capacity, dead letters, one per endpoint), runs every check at its interval, publishes a
 * {@link HealthReport} on the topic {@code health.SERVICE} every publish interval, and reports to
 * Graphite when configured. Created and owned by the server; {@link #report()} is public for tests
 * and tools.
 *
 * <p>Thread-safe. One named daemon thread ({@code skiff-health-SERVICE}); lifecycle
 * {@code start() -> close()}.
 */
public final class ServiceMonitor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ServiceMonitor.class);
  /** The topic prefix health reports are published under: {@code health.SERVICE}. */
  public static final String TOPIC_PREFIX = "health.";
  /** Errors that are the service's fault, counted against an endpoint's error rate. */
  static final Set<ErrorCode> SERVICE_FAULTS =
      EnumSet.of(ErrorCode.INTERNAL, ErrorCode.TIMEOUT, ErrorCode.CAPACITY, ErrorCode.UNAVAILABLE, ErrorCode.UNKNOWN_OUTCOME);
  /** An endpoint's error rate is judged only over at least this many requests. */
  static final int MIN_REQUESTS_FOR_ERROR_RATE = 10;
  /**
   * How long an endpoint may go without a request before its latency is no longer judged against its SLA:
   * the timer's sample is weighted to the last five minutes but only moves when a request comes, so an idle
   * endpoint would otherwise keep failing on the figures of its last busy minutes, forever.
   */
  static final Duration SLA_IDLE = Duration.ofMinutes(5);

  /**
   * The service being monitored.
   *
   * @param name the service's name
   * @param version its version
   * @param description what it does
   * @param instanceId this instance
   * @param endpoints its endpoints, with their SLAs and handler timers
   * @param concurrency how many handlers run at once
   * @param prefetch how many requests it holds unsettled
   * @param configuration where its settings came from and what they are, for the configuration check
   */
  public record Service(
      String name,
      String version,
      String description,
      String instanceId,
      List<MonitoredEndpoint> endpoints,
      int concurrency,
      int prefetch,
      String configuration) {
    /** Copies the endpoints. */
    public Service {
      endpoints = List.copyOf(endpoints);
    }
  }

  /**
   * An endpoint of the service, as its healthcheck judges it.
   *
   * @param name the endpoint's name
   * @param slaMean the mean latency it promises, or null for none
   * @param slaP95 the 95th percentile it promises, or null for none
   * @param maxErrorRate the share of requests that may fail with the service's fault
   * @param handlerTimer the timer of its handler's runs
   * @param access who may call it, as a phrase ({@code dev.skiff.platform.security.Access#toString()})
   */
  public record MonitoredEndpoint(
      String name, Duration slaMean, Duration slaP95, double maxErrorRate, Timer handlerTimer, String access) {}

  private final Service service;
  private final ServerLoad load;
  private final Transport transport;
  private final MetricRegistry metrics;
  private final HealthChecks checks;
  private final MonitoringOptions options;
  private final RpcMetrics rpc;
  private final Clock clock;
  private final PubSub pubsub;
  private final String topic;
  private final Lifecycle lifecycle;
  private final long startedMillis;
  private ScheduledExecutorService scheduler;
  private GraphiteReporting graphite;
  private volatile long publishFailures;

  /**
   * Sets up monitoring and registers the built-in checks in {@code checks}.
   *
   * @param service the service
   * @param load its live load, for the capacity check
   * @param transport its transport, on which reports are published
   * @param metrics its metrics
   * @param checks its healthchecks
   * @param options what to do
   * @param rpc its per-endpoint metrics, or null when metrics are off
   * @param clock the clock
   */
  public ServiceMonitor(
      Service service,
      ServerLoad load,
      Transport transport,
      MetricRegistry metrics,
      HealthChecks checks,
      MonitoringOptions options,
      RpcMetrics rpc,
      Clock clock) {
    this.service = Objects.requireNonNull(service, "service");
    this.load = Objects.requireNonNull(load, "load");
    this.transport = Objects.requireNonNull(transport, "transport");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.checks = Objects.requireNonNull(checks, "checks");
    this.options = Objects.requireNonNull(options, "options");
    this.rpc = rpc;
    this.clock = Objects.requireNonNull(clock, "clock");
    this.pubsub = new PubSub(transport);
    this.topic = TOPIC_PREFIX + service.name();
    this.startedMillis = clock.millis();
    this.lifecycle = new Lifecycle("monitoring of " + service.name());
    registerBuiltIns();
  }

  private void registerBuiltIns() {
    checks.register("broker", Priority.PAGE, Duration.ofSeconds(5), new BrokerCheck());
    checks.register("configuration", Priority.NOTIFY, Duration.ofMinutes(1), new HealthCheck() {
      @Override
      protected Result check() {
        return Result.healthy(service.configuration());
      }
    });
    checks.register("capacity", Priority.WARN, Duration.ofSeconds(5), new CapacityCheck());
    checks.register("dead-letters", Priority.NOTIFY, Duration.ofSeconds(30), new DeadLetterCheck());
    if (rpc != null) {
      for (MonitoredEndpoint e : service.endpoints()) {
        checks.register("endpoint." + e.name(), Priority.NOTIFY, Duration.ofSeconds(5), new EndpointCheck(e));
      }
    }
  }

  /**
   * Starts running checks and publishing (and reporting to Graphite, when configured).
   *
   * @throws IllegalStateException if started before
   */
  public void start() {
    lifecycle.start(this::startWork, this::stopWork);
  }

  private void startWork() {
    ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(1, Threads.named("skiff-health-" + service.name()));
    s.setRemoveOnCancelPolicy(true);
    scheduler = s;
    s.scheduleWithFixedDelay(this::runDueChecks, 0, 250, TimeUnit.MILLISECONDS);
    long every = options.publishInterval().toMillis();
    s.scheduleAtFixedRate(this::publish, Math.min(every, 500), every, TimeUnit.MILLISECONDS);
    options.graphite().ifPresent(a -> graphite = GraphiteReporting.start(
        metrics, a, options.graphiteInterval(), GraphiteReporting.prefix(service.name(), service.instanceId())));
  }

  private void runDueChecks() {
    try {
      checks.runDue(clock.instant());
    } catch (RuntimeException e) {
      log.warn("{}: running healthchecks failed", service.name(), e);
    }
  }

  /** Publishes a report now; a failure is logged and counted. */
  public void publish() {
    try {
      pubsub.publish(topic, report());
    } catch (RuntimeException e) {
      Lifecycle.State state = lifecycle.state();
      if (state == Lifecycle.State.CLOSING || state == Lifecycle.State.CLOSED) {
        // a report that was under way as the monitor closed, on a transport closing with it
        log.debug("{}: health not published on {} while closing: {}", service.name(), topic, e.toString());
        return;
      }
      publishFailures++;
      log.warn("{}: could not publish health on {}: {}", service.name(), topic, e.toString());
    }
  }

  /** @return how many reports could not be published */
  public long publishFailures() {
    return publishFailures;
  }

  /** @return the healthchecks */
  public HealthChecks checks() {
    return checks;
  }

  /**
   * The instance's health and metrics now, as published.
   *
   * @return the report
   */
  public HealthReport report() {
    HealthReport.Builder r = HealthReport.newBuilder()
        .setService(service.name())
        .setInstance(service.instanceId())
        .setVersion(service.version())
        .setDescription(service.description())
        .setSentEpochMillis(clock.millis())
        .setStartedEpochMillis(startedMillis)
        .setIntervalMillis(options.publishInterval().toMillis());
    boolean healthy = true;
    for (HealthChecks.Status st : checks.results()) {
      CheckResult.Builder c = CheckResult.newBuilder()
          .setName(st.name())
          .setPriority(st.priority().toProto())
          .setIntervalMillis(st.interval().toMillis());
      HealthCheck.Result res = st.result();
      if (res == null) {
        c.setHealthy(true).setMessage("not run yet");
      } else {
        c.setHealthy(res.healthy())
            .setMessage(res.message())
            .setDurationMicros(res.duration().toNanos() / 1000)
            .setCheckedEpochMillis(res.checkedAt().toEpochMilli());
        if (res.error() != null) {
          c.setError(res.error().getClass().getName() + ": " + res.error().getMessage());
        }
        healthy &= res.healthy();
      }
      r.addChecks(c);
    }
    r.setHealthy(healthy);
    if (rpc != null) {
      for (MonitoredEndpoint e : service.endpoints()) {
        r.addEndpoints(serverStats(e));
      }
      rpc.clientCalls().forEach((name, side) -> r.addEndpoints(clientStats(name, side)));
    }
    for (Map.Entry<String, Gauge<?>> g : gauges().entrySet()) {
      if (isReported(g.getKey()) && g.getValue().getValue() instanceof Number n) {
        r.putGauges(g.getKey(), n.doubleValue());
      }
    }
    for (Map.Entry<String, Counter> c : metrics.getCounters().entrySet()) {
      if (isReported(c.getKey())) {
        r.putGauges(c.getKey(), c.getValue().getCount());
      }
    }
    r.putGauges("skiff.server.concurrency", service.concurrency());
    r.putGauges("skiff.server.prefetch", service.prefetch());
    return r.build();
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  private Map<String, Gauge<?>> gauges() {
    return (Map) metrics.getGauges();
  }

  /**
   * Whether a metric goes into the report: the transport's gauges and counters ({@code skiff.server.*},
   * {@code skiff.client.*}, not the per-endpoint ones, which are in the endpoints' statistics) and the config
   * layer's ({@code skiff.config.*}: version, live, refused, refused-events; docs/configuration.md). Each
   * family is a fixed set of names, so the report stays bounded.
   */
  static boolean isReported(String name) {
    return ((name.startsWith("skiff.server.") || name.startsWith("skiff.client."))
        && !name.startsWith("skiff.server.endpoint.") && !name.startsWith("skiff.client.call."))
        || CONFIG_METRICS.contains(name);
  }

  /** The config layer's metrics ({@code dev.skiff.platform.liveconfig.ConfigServiceLayer}) a report carries. */
  static final Set<String> CONFIG_METRICS =
      Set.of("skiff.config.version", "skiff.config.live", "skiff.config.refused", "skiff.config.refused-events");

  private EndpointStats serverStats(MonitoredEndpoint e) {
    EndpointStats.Builder b = stats(e.name(), "server", rpc.serverEndpoints().get(e.name()), e.handlerTimer().getSnapshot());
    if (e.slaMean() != null) {
      b.setSlaMeanMillis(e.slaMean().toNanos() / 1e6).setSlaP95Millis(e.slaP95().toNanos() / 1e6);
    }
    return b.setAccess(e.access()).build();
  }

  private static EndpointStats clientStats(String name, RpcMetrics.Side side) {
    return stats(name, "client", side, side.timer().getSnapshot()).build();
  }

  /** An endpoint's figures: counts, errors by code and latency (the handler's on a server, the call's on a client). */
  private static EndpointStats.Builder stats(String name, String sideName, RpcMetrics.Side side, Snapshot latency) {
    EndpointStats.Builder b = EndpointStats.newBuilder()
        .setName(name)
        .setSide(sideName)
        .setRequests(side.count())
        .setErrors(side.errors())
        .setMeanMillis(latency.getMean() / 1e6)
        .setP95Millis(latency.get95thPercentile() / 1e6)
        .setP99Millis(latency.get99thPercentile() / 1e6)
        .setRate1M(side.rate1m());
    putCodes(b, side);
    return b;
  }

  private static void putCodes(EndpointStats.Builder b, RpcMetrics.Side side) {
    for (ErrorCode code : ErrorCode.values()) {
      long n = side.errors(code);
      if (n > 0) {
        b.putErrorsByCode(code.name(), n);
      }
    }
  }

  /**
   * Stops checks, publishing and reporting; a monitor that was publishing first publishes a last report
   * marked {@code stopping}, so that monitoring stops counting this instance at once rather than showing it
   * stale for minutes (best effort: on a transport that is going, it is not sent). Idempotent.
   */
  @Override
  public void close() {
    Lifecycle.State was = lifecycle.beginClose();
    if (was == Lifecycle.State.CLOSED) {
      return;
    }
    stopWork();
    if (was == Lifecycle.State.RUNNING) {
      try {
        pubsub.publish(topic, report().toBuilder().setStopping(true).build());
      } catch (RuntimeException e) {
        log.debug("{}: the last health report was not published: {}", service.name(), e.toString());
      }
    }
    lifecycle.closed();
  }

  private void stopWork() {
    if (scheduler != null) {
      scheduler.shutdownNow();
    }
    if (graphite != null) {
      graphite.close();
    }
  }

  /** The broker takes a publication. */
  private final class BrokerCheck extends HealthCheck {
    @Override
    protected Result check() {
      transport.publish("skiff.probe." + service.name(), ContentTypes.PROTOBUF, new byte[0]);
      return Result.healthy("connected: " + transport.describe());
    }
  }

  /** Handlers and the local queue against their bounds; requests refused for waiting too long. */
  private final class CapacityCheck extends HealthCheck {
    private long lastRejected;
    private long lastDropped;

    @Override
    protected Result check() {
      long inFlight = load.inFlight();
      long queued = load.queued();
      long rejected = load.refusedForWaiting();
      long dropped = load.droppedExpired();
      long newRejected = rejected - lastRejected;
      long newDropped = dropped - lastDropped;
      lastRejected = rejected;
      lastDropped = dropped;
      // taken and not answered counts those waiting for a handler too: the handlers busy are the rest
      long running = Math.max(0, inFlight - queued);
      String state = running + "/" + service.concurrency() + " handlers busy, " + Counts.of(queued, "request") + " waiting here (of "
          + Math.max(0, service.prefetch() - service.concurrency()) + " the prefetch allows)";
      if (newRejected > 0 || newDropped > 0) {
        return Result.unhealthy(state + "; since the last check " + newRejected
            + " refused for waiting too long and " + newDropped + " dropped past their deadline");
      }
      if (running >= service.concurrency() && queued > 0 && queued >= service.prefetch() - service.concurrency()) {
        return Result.unhealthy("saturated: " + state);
      }
      return Result.healthy(state);
    }
  }

  /**
   * Requests set aside (dead letters: too large, or over the delivery limit): unhealthy while any wait
   * in the service's dead-letter queue, or when this instance set one aside since the last check, until
   * someone has looked at them ({@code skiff dead-letters list|replay|discard SERVICE}).
   */
  private final class DeadLetterCheck extends HealthCheck {
    private long lastSetAside;

    @Override
    protected Result check() {
      long mine = load.setAside();
      long waiting = load.setAsideWaiting();
      long recent = mine - lastSetAside;
      lastSetAside = mine;
      String how = "; inspect them with: skiff dead-letters list " + service.name();
      if (waiting > 0) {
        return Result.unhealthy(waiting + " request(s) set aside wait in the dead-letter queue (" + mine
            + " set aside by this instance since it started)" + how);
      }
      if (recent > 0) {
        return Result.unhealthy(recent + " request(s) set aside since the last check (" + mine + " by this instance since it started)" + how);
      }
      return Result.healthy(waiting == 0 ? "no request set aside waits" : mine + " set aside by this instance since it started");
    }
  }

  /** An endpoint against its SLA and error rate, over the requests since the last check. */
  private final class EndpointCheck extends HealthCheck {
    private final MonitoredEndpoint endpoint;
    private long lastCount;
    private long lastFaults;
    private long lastRequestMillis = clock.millis();

    EndpointCheck(MonitoredEndpoint endpoint) {
      this.endpoint = endpoint;
    }

    @Override
    protected Result check() {
      RpcMetrics.Side side = rpc.serverEndpoints().get(endpoint.name());
      long count = side.count();
      long faults = 0;
      for (ErrorCode c : SERVICE_FAULTS) {
        faults += side.errors(c);
      }
      long n = count - lastCount;
      long f = faults - lastFaults;
      long now = clock.millis();
      if (n > 0) {
        lastRequestMillis = now;
      }
      lastCount = count;
      lastFaults = faults;
      double maxRate = endpoint.maxErrorRate();
      List<String> problems = new ArrayList<>();
      if (n >= MIN_REQUESTS_FOR_ERROR_RATE && (double) f / n > maxRate) {
        problems.add(String.format(java.util.Locale.ROOT, "%d of the last %d requests failed (%.0f%%, limit %.0f%%)",
            f, n, 100.0 * f / n, 100 * maxRate));
      }
      Timer t = endpoint.handlerTimer();
      String latency = "no requests yet";
      if (t.getCount() > 0) {
        Snapshot s = t.getSnapshot();
        double mean = s.getMean() / 1e6;
        double p95 = s.get95thPercentile() / 1e6;
        latency = String.format(java.util.Locale.ROOT, "mean %.1f ms, p95 %.1f ms", mean, p95);
        if (now - lastRequestMillis >= SLA_IDLE.toMillis()) {
          latency = "no requests for " + (now - lastRequestMillis) / 60_000 + " min (before: " + latency + ")";
        } else if (endpoint.slaMean() != null) {
          double slaMean = endpoint.slaMean().toNanos() / 1e6;
          double slaP95 = endpoint.slaP95().toNanos() / 1e6;
          latency += String.format(java.util.Locale.ROOT, " (SLA mean %.1f ms, p95 %.1f ms)", slaMean, slaP95);
          if (mean > slaMean) {
            problems.add(String.format(java.util.Locale.ROOT, "mean %.1f ms is over its SLA of %.1f ms", mean, slaMean));
          }
          if (p95 > slaP95) {
            problems.add(String.format(java.util.Locale.ROOT, "p95 %.1f ms is over its SLA of %.1f ms", p95, slaP95));
          }
        }
      }
      return problems.isEmpty() ? Result.healthy(latency) : Result.unhealthy(String.join("; ", problems));
    }
  }
}
