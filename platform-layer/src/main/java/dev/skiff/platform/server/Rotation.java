package dev.skiff.platform.server;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.HealthChecks;
import dev.skiff.platform.health.Priority;
import dev.skiff.platform.health.ServiceMonitor;
import dev.skiff.platform.internal.Codec;
import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.observe.RpcObserver;
import dev.skiff.platform.observe.ServerEvent;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.EndpointStats;
import dev.skiff.proto.v1.HealthReport;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether this instance is in rotation: it takes itself out (pauses its binding) when it fails most of
 * its requests while its peers succeed, and back in after the ejection time once its other healthchecks
 * pass (the decision: {@link OutlierDetector}; the options: {@link OutlierOptions}).
 *
 * <p>It sees its own requests as an {@link RpcObserver} of the server, and its peers' from the health
 * reports every instance publishes on {@code health.SERVICE} ({@link ServiceMonitor}): a report that does
 * not decode, or names no instance, is counted ({@code skiff.server.rotation.bad-reports}) and dropped.
 * It decides once a second on its own thread, shows its state as the healthcheck {@value #CHECK} and the
 * gauge {@code skiff.server.rotation.in} (1 in, 0 out), and counts ejections
 * ({@code skiff.server.rotation.ejections}).
 *
 * <p>Lifecycle {@code start(binding) -> close()}, both by the server; closed when the server starts to
 * drain, after which it never resumes the binding. Thread-safe.
 */
final class Rotation implements RpcObserver, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Rotation.class);
  /** The name of its healthcheck. */
  static final String CHECK = "rotation";
  /** How many peers it remembers at most. */
  static final int MAX_PEERS = 256;
  /** The failures an instance produces itself for requests it took. */
  private static final Set<ErrorCode> FAULTS = EnumSet.of(ErrorCode.INTERNAL, ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT);

  private final String service;
  private final String instanceId;
  private final Transport transport;
  private final HealthChecks health;
  private final Clock clock;
  private final OutlierDetector detector;
  private final PeerOutcomes peers;
  private final Counter ejections;
  private final Counter badReports;
  private final Counter peersForgotten;
  private final Object lock = new Object();
  private boolean closed;
  /** The state applied to the binding, as the check and gauge show it: set after the pause or resume. */
  private volatile Shown shown = new Shown(true, "in rotation");

  private record Shown(boolean in, String reason) {}
  private Transport.ServerBinding binding;
  private Transport.Subscription subscription;
  private ScheduledThreadPoolExecutor timer;

  Rotation(String service, String instanceId, OutlierOptions options, Transport transport, HealthChecks health,
      MetricRegistry metrics, Clock clock) {
    this.service = service;
    this.instanceId = instanceId;
    this.transport = transport;
    this.health = health;
    this.clock = clock;
    this.detector = new OutlierDetector(options, clock.millis());
    this.peers = new PeerOutcomes(options.window().toMillis(), MAX_PEERS);
    this.ejections = metrics.counter("skiff.server.rotation.ejections");
    this.badReports = metrics.counter("skiff.server.rotation.bad-reports");
    this.peersForgotten = metrics.counter("skiff.server.rotation.peers-forgotten");
    metrics.gauge("skiff.server.rotation.in", () -> () -> shown.in() ? 1 : 0);
    health.register(CHECK, Priority.NOTIFY, Duration.ofSeconds(1), new HealthCheck() {
      @Override
      protected Result check() {
        Shown now = shown;
        return now.in() ? Result.healthy(now.reason()) : Result.unhealthy(now.reason());
      }
    });
  }

  /**
   * Starts listening to the peers and deciding.
   *
   * @param b the binding to pause and resume
   */
  void start(Transport.ServerBinding b) {
    synchronized (lock) {
      if (closed) {
        return;
      }
      binding = b;
      subscription = transport.subscribe(ServiceMonitor.TOPIC_PREFIX + service, null, this::onReport);
      timer = new ScheduledThreadPoolExecutor(1, Threads.named("skiff-rotation-" + service));
      timer.scheduleWithFixedDelay(this::tick, 1, 1, TimeUnit.SECONDS);
    }
  }

  @Override
  public void onServerRequest(ServerEvent event) {
    detector.record(clock.millis(), event.error() != null && FAULTS.contains(event.error()));
  }

  /** A peer's health report: its cumulative server-side requests and failures. */
  private void onReport(String topic, String contentType, byte[] body, String sender) {
    HealthReport report;
    try {
      report = Codec.decode(body, contentType, HealthReport.getDefaultInstance());
    } catch (RuntimeException e) {
      badReports.inc();
      log.debug("{}: dropped a health report that does not decode: {}", service, e.toString());
      return;
    }
    if (report.getInstance().isEmpty() || !service.equals(report.getService())) {
      badReports.inc();
      return;
    }
    if (report.getInstance().equals(instanceId)) {
      return;
    }
    long requests = 0;
    long failures = 0;
    for (EndpointStats e : report.getEndpointsList()) {
      if (!"server".equals(e.getSide())) {
        continue;
      }
      requests = add(requests, e.getRequests());
      for (ErrorCode code : FAULTS) {
        failures = add(failures, e.getErrorsByCodeOrDefault(code.name(), 0));
      }
    }
    if (peers.report(report.getInstance(), clock.millis(), requests, Math.min(failures, requests))) {
      peersForgotten.inc();
    }
  }

  /** Adds counts from a report, which may be made up: negatives count as 0, and the sum saturates. */
  private static long add(long a, long b) {
    long r = a + Math.max(0, b);
    return r < 0 ? Long.MAX_VALUE : r;
  }

  private void tick() {
    try {
      long now = clock.millis();
      OutlierDetector.Action action = detector.evaluate(now, peers.recent(now), othersHealthy());
      synchronized (lock) {
        if (closed) {
          return;
        }
        switch (action) {
          case EJECT -> {
            binding.pause();
            ejections.inc();
            log.warn("{} instance {}: {}", service, instanceId, detector.reason());
          }
          case RETURN -> {
            binding.resume();
            log.info("{} instance {}: {}", service, instanceId, detector.reason());
          }
          case NONE -> {
            // nothing changes
          }
        }
        shown = new Shown(detector.inRotation(), detector.reason());
      }
      if (action != OutlierDetector.Action.NONE) {
        health.run(CHECK);
      }
    } catch (RuntimeException e) {
      log.warn("{}: deciding whether instance {} is in rotation failed", service, instanceId, e);
    }
  }

  private boolean othersHealthy() {
    for (HealthChecks.Status s : health.results()) {
      if (!s.name().equals(CHECK) && s.result() != null && !s.result().healthy()) {
        return false;
      }
    }
    return true;
  }

  /** Stops deciding and listening; the binding stays as it is (the server drains or closes it). Idempotent. */
  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      if (timer != null) {
        timer.shutdownNow();
      }
      if (subscription != null) {
        subscription.close();
      }
    }
  }
}
