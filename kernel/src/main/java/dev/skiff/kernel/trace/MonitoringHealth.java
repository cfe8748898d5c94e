package dev.skiff.kernel.trace;

import dev.skiff.kernel.Guard;
import dev.skiff.kernel.KernelContext;
import dev.skiff.kernel.monitoring.HealthStore;
import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.platform.health.ServiceMonitor;
import dev.skiff.platform.pubsub.PubSub;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.CheckPriority;
import dev.skiff.proto.v1.CheckResult;
import dev.skiff.proto.v1.HealthReport;
import dev.skiff.proto.v1.InstanceStatus;
import dev.skiff.proto.v1.ServiceStatus;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The monitoring service's view of health as a {@link HealthSource}, for colouring the service graph.
 *
 * <ul>
 *   <li>When the monitoring kernel service runs in the same kernel, this reads its {@link HealthStore}.
 *   <li>Otherwise it keeps a {@link HealthStore} of its own, fed by the same health reports the
 *       monitoring service collects (topic {@code health.#}, every report to every copy), and judged by
 *       the same rules (staleness included). No RPC: rendering the graph never waits on the network, and
 *       colours work even when no monitoring service runs.
 * </ul>
 *
 * <p>A service's health is that of its worst live (not stale) instance: OK when every check passes,
 * CRITICAL when a failing check has priority PAGE, WARNING when the failing checks are NOTIFY or WARN
 * only. A service the monitoring view does not know, or whose instances are all stale, is unknown:
 * the graph then colours it by its error rate. Answers are computed from the store at most once a
 * second. Thread-safe.
 */
final class MonitoringHealth implements HealthSource, AutoCloseable {
  private static final long REFRESH_MILLIS = 1_000;

  private final HealthStore store;
  private final boolean local;
  private final Transport.Subscription subscription;
  private final Clock clock;
  private Map<String, Health> cached = Map.of();
  private boolean fresh;
  private long cachedAt;

  private MonitoringHealth(HealthStore store, boolean local, Transport.Subscription subscription, Clock clock) {
    this.store = store;
    this.local = local;
    this.subscription = subscription;
    this.clock = clock;
  }

  /**
   * The monitoring service's store when it runs in this kernel, else a store of its own fed by the
   * health reports.
   *
   * @param context the trace service's kernel context
   * @param clock the clock staleness is judged by (for a store of its own)
   * @return the source, started
   */
  static MonitoringHealth start(KernelContext context, Clock clock) {
    Optional<MonitoringService> monitoring = context.service(MonitoringService.class);
    if (monitoring.isPresent()) {
      return new MonitoringHealth(monitoring.get().store(), true, null, clock);
    }
    HealthStore own = new HealthStore(clock, 1,
        new dev.skiff.kernel.Bound("trace-health-store", HealthStore.limitsFromEnvironment(System.getenv()), false));
    Transport.Subscription sub = new PubSub(context.transport())
        .subscribeWithSender(ServiceMonitor.TOPIC_PREFIX + "#", null, HealthReport.class, (topic, report, sender) -> {
          if (context.guard().mayActAs(Guard.HEALTH_REPORT, sender, report.getService())) {
            own.accept(report);
          }
        });
    return new MonitoringHealth(own, false, sub, clock);
  }

  /** @return the bound of the store of its own, when it keeps one (else the monitoring service's store is bounded) */
  Optional<dev.skiff.kernel.Bound> bound() {
    return local ? Optional.empty() : Optional.of(store.bound());
  }

  /** @return whether this reads the monitoring service of the same kernel (else reports of its own) */
  boolean local() {
    return local;
  }

  @Override
  public Optional<Health> health(String service) {
    Map<String, Health> now;
    synchronized (this) {
      long t = clock.millis();
      if (!fresh || t - cachedAt >= REFRESH_MILLIS || t < cachedAt) {
        Map<String, Health> next = new HashMap<>();
        for (ServiceStatus s : store.overview().getServicesList()) {
          of(s).ifPresent(h -> next.put(s.getName(), h));
        }
        cached = next;
        cachedAt = t;
        fresh = true;
      }
      now = cached;
    }
    return Optional.ofNullable(now.get(service));
  }

  /**
   * @param status a service as the monitoring service knows it
   * @return the health of its worst live instance, or empty when none is live
   */
  static Optional<Health> of(ServiceStatus status) {
    Health worst = null;
    for (InstanceStatus i : status.getInstancesList()) {
      if (i.getStale()) {
        continue;
      }
      Health h = of(i.getLatest());
      if (worst == null || h.compareTo(worst) > 0) {
        worst = h;
      }
    }
    return Optional.ofNullable(worst);
  }

  private static Health of(HealthReport r) {
    if (r.getHealthy()) {
      return Health.OK;
    }
    for (CheckResult c : r.getChecksList()) {
      if (!c.getHealthy() && (c.getPriority() == CheckPriority.PAGE || c.getPriority() == CheckPriority.CHECK_PRIORITY_UNSPECIFIED)) {
        return Health.CRITICAL;
      }
    }
    return Health.WARNING;
  }

  @Override
  public void close() {
    if (subscription != null) {
      subscription.close();
    }
  }

  @Override
  public String toString() {
    return local ? "the monitoring service in this kernel" : "health reports (topic " + ServiceMonitor.TOPIC_PREFIX + "#)";
  }
}
