package dev.skiff.kernel.monitoring;

import dev.skiff.kernel.Bound;
import dev.skiff.proto.v1.EndpointPoint;
import dev.skiff.proto.v1.EndpointSeries;
import dev.skiff.proto.v1.EndpointStats;
import dev.skiff.proto.v1.HealthOverview;
import dev.skiff.proto.v1.HealthReport;
import dev.skiff.proto.v1.InstanceStatus;
import dev.skiff.proto.v1.ServiceStatus;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The monitoring service's state: every instance's latest health report and a short history of each
 * of its endpoints, built only from the reports instances publish, so a restarted (or an extra) copy
 * of the service rebuilds it within one publish interval.
 *
 * <p>An instance that has not reported for {@link #STALE_INTERVALS} of its intervals is stale; after
 * {@link #FORGET_INTERVALS} it is forgotten, and a service with no instance left with it. An instance
 * whose latest report says it stopped ({@code stopping}, its last) is not shown nor counted from then on
 * (kept until forgotten, so that an older report arriving late cannot bring it back); a service whose
 * instances all stopped is not shown.
 *
 * <p><b>Bounded</b> ({@link Bound}, docs/security.md "Hostile input"): at most {@code maxCount} instances
 * and {@code maxBytes} bytes, counted as each instance's latest report (serialized) and its history
 * ({@value #POINT_BYTES} bytes a point). At the bound a report of a new instance is refused (after the
 * instances due to be forgotten are), and so is a report of a known one that would pass the byte bound:
 * the instances known are kept. The history of an endpoint an instance no longer reports is dropped.
 * Thread-safe.
 */
public final class HealthStore {
  /** Missed intervals after which an instance counts as stale. */
  public static final int STALE_INTERVALS = 3;
  /** Missed intervals after which an instance is forgotten. */
  public static final int FORGET_INTERVALS = 60;
  /** What a point of history counts for against the byte bound (its serialized size, about). */
  public static final int POINT_BYTES = 48;
  /** The default bound: 10,000 instances, 64 MiB. */
  public static final Bound.Limits DEFAULT_LIMITS = new Bound.Limits(10_000, 64L << 20);

  private final Clock clock;
  private final int historySize;
  private final Bound bound;
  private final Map<String, Map<String, Instance>> services = new TreeMap<>();
  private int count;
  private long bytes;

  private static final class Instance {
    HealthReport latest;
    long receivedMillis;
    long bytes;
    final Map<String, Deque<EndpointPoint>> history = new TreeMap<>();
  }

  /**
   * @param clock the clock staleness is judged by
   * @param historySize how many points to keep per endpoint and instance
   */
  public HealthStore(Clock clock, int historySize) {
    this(clock, historySize, new Bound("health-store", DEFAULT_LIMITS, false));
  }

  /**
   * @param clock the clock staleness is judged by
   * @param historySize how many points to keep per endpoint and instance
   * @param bound how many instances and bytes it holds at most
   */
  public HealthStore(Clock clock, int historySize, Bound bound) {
    this.clock = Objects.requireNonNull(clock, "clock");
    if (historySize <= 0) {
      throw new IllegalArgumentException("historySize must be positive: " + historySize);
    }
    this.historySize = historySize;
    this.bound = Objects.requireNonNull(bound, "bound");
  }

  /**
   * @param env environment variables
   * @return the bound {@code SKIFF_MONITORING_MAX_INSTANCES} and {@code SKIFF_MONITORING_MAX_BYTES} set,
   *     by default {@link #DEFAULT_LIMITS}
   * @throws IllegalArgumentException naming a variable whose value is not a positive whole number
   */
  public static Bound.Limits limitsFromEnvironment(Map<String, String> env) {
    return Bound.Limits.fromEnvironment(env, "SKIFF_MONITORING_MAX_INSTANCES", DEFAULT_LIMITS.maxCount(),
        "SKIFF_MONITORING_MAX_BYTES", DEFAULT_LIMITS.maxBytes());
  }

  /** @return the store's bound (its size, what it refused) */
  public Bound bound() {
    return bound;
  }

  /** The bytes an instance would count for with this report: the report and the history it would have. */
  private long projectedBytes(Instance inst, HealthReport report) {
    long points = 0;
    for (EndpointStats e : report.getEndpointsList()) {
      if ("server".equals(e.getSide())) {
        Deque<EndpointPoint> h = inst == null ? null : inst.history.get(e.getName());
        points += Math.min(historySize, (h == null ? 0 : h.size()) + 1);
      }
    }
    return report.getSerializedSize() + points * POINT_BYTES;
  }

  /**
   * Takes in a report.
   *
   * @param report the report an instance published
   */
  public synchronized void accept(HealthReport report) {
    if (report.getService().isEmpty() || report.getInstance().isEmpty()) {
      return;
    }
    Map<String, Instance> known = services.get(report.getService());
    Instance inst = known == null ? null : known.get(report.getInstance());
    if (inst != null && inst.latest.getSentEpochMillis() >= report.getSentEpochMillis()) {
      return;
    }
    long projected = projectedBytes(inst, report);
    if (!fits(inst, projected)) {
      forgetOld();
      inst = services.getOrDefault(report.getService(), Map.of()).get(report.getInstance());
      if (!fits(inst, projected)) {
        bound.hit(inst == null ? "a report of a new instance was refused" : "a larger report of a known instance was refused");
        return;
      }
    }
    if (inst == null) {
      inst = new Instance();
      services.computeIfAbsent(report.getService(), k -> new TreeMap<>()).put(report.getInstance(), inst);
      count++;
    }
    HealthReport previous = inst.latest;
    Map<String, EndpointStats> before = new HashMap<>();
    if (previous != null) {
      previous.getEndpointsList().forEach(e -> before.put(e.getSide() + ":" + e.getName(), e));
    }
    for (EndpointStats e : report.getEndpointsList()) {
      if (!"server".equals(e.getSide())) {
        continue;
      }
      EndpointStats b = before.get("server:" + e.getName());
      double rate;
      double errorRate;
      if (b != null && report.getSentEpochMillis() > previous.getSentEpochMillis() && e.getRequests() >= b.getRequests()) {
        double secs = (report.getSentEpochMillis() - previous.getSentEpochMillis()) / 1000.0;
        rate = (e.getRequests() - b.getRequests()) / secs;
        errorRate = (e.getErrors() - b.getErrors()) / secs;
      } else {
        rate = e.getRate1M();
        errorRate = 0;
      }
      // no request since the previous report: the timer's figures are its last busy minutes', not this
      // interval's (its sample only moves when a request comes), so the point has no latency
      boolean idle = b != null && e.getRequests() == b.getRequests();
      Deque<EndpointPoint> points = inst.history.computeIfAbsent(e.getName(), k -> new ArrayDeque<>());
      points.addLast(EndpointPoint.newBuilder()
          .setEpochMillis(report.getSentEpochMillis())
          .setRate(rate)
          .setErrorRate(errorRate)
          .setMeanMillis(idle ? 0 : e.getMeanMillis())
          .setP95Millis(idle ? 0 : e.getP95Millis())
          .build());
      while (points.size() > historySize) {
        points.removeFirst();
      }
    }
    java.util.Set<String> reported = new java.util.HashSet<>();
    report.getEndpointsList().forEach(e -> reported.add(e.getName()));
    inst.history.keySet().retainAll(reported);
    inst.latest = report;
    inst.receivedMillis = clock.millis();
    long size = report.getSerializedSize();
    for (Deque<EndpointPoint> h : inst.history.values()) {
      size += (long) h.size() * POINT_BYTES;
    }
    bytes += size - inst.bytes;
    inst.bytes = size;
    bound.holds(count, bytes);
  }

  private boolean fits(Instance known, long projected) {
    return known == null ? bound.fits(count + 1L, bytes + projected) : bound.fits(count, bytes - known.bytes + projected);
  }

  /** @return every known service's status, by name */
  public synchronized HealthOverview overview() {
    forgetOld();
    HealthOverview.Builder o = HealthOverview.newBuilder().setEpochMillis(clock.millis());
    services.forEach((name, instances) -> {
      if (running(instances)) {
        o.addServices(status(name, instances));
      }
    });
    return o.build();
  }

  /** @return whether any of a service's instances has not said it stopped */
  private static boolean running(Map<String, Instance> instances) {
    return instances.values().stream().anyMatch(i -> !i.latest.getStopping());
  }

  /**
   * @param name a service's name
   * @return its status, if it has reported
   */
  public synchronized Optional<ServiceStatus> service(String name) {
    forgetOld();
    Map<String, Instance> instances = services.get(name);
    return instances == null || !running(instances) ? Optional.empty() : Optional.of(status(name, instances));
  }

  /** @return the names of the services known, sorted */
  public synchronized List<String> names() {
    forgetOld();
    return services.entrySet().stream().filter(e -> running(e.getValue())).map(Map.Entry::getKey).toList();
  }

  private boolean stale(Instance i, long now) {
    return now - i.receivedMillis > STALE_INTERVALS * Math.max(1, i.latest.getIntervalMillis());
  }

  private void forgetOld() {
    long now = clock.millis();
    services.values().forEach(m -> m.values().removeIf(i -> {
      boolean old = now - i.receivedMillis > FORGET_INTERVALS * Math.max(1, i.latest.getIntervalMillis());
      if (old) {
        count--;
        bytes -= i.bytes;
      }
      return old;
    }));
    services.values().removeIf(Map::isEmpty);
    bound.holds(count, bytes);
  }

  private ServiceStatus status(String name, Map<String, Instance> instances) {
    long now = clock.millis();
    ServiceStatus.Builder s = ServiceStatus.newBuilder().setName(name);
    boolean anyLive = false;
    boolean allHealthy = true;
    List<String> failing = new ArrayList<>();
    for (Map.Entry<String, Instance> e : instances.entrySet()) {
      Instance i = e.getValue();
      if (i.latest.getStopping()) {
        continue;
      }
      boolean stale = stale(i, now);
      s.addInstances(InstanceStatus.newBuilder().setLatest(i.latest).setReceivedEpochMillis(i.receivedMillis).setStale(stale));
      if (!stale) {
        anyLive = true;
        allHealthy &= i.latest.getHealthy();
        i.latest.getChecksList().stream().filter(c -> !c.getHealthy())
            .forEach(c -> failing.add(e.getKey() + ": " + c.getName() + " [" + c.getPriority() + "]: " + c.getMessage()));
      }
      Map<String, EndpointStats> declared = new HashMap<>();
      i.latest.getEndpointsList().forEach(x -> declared.put(x.getName(), x));
      i.history.forEach((endpoint, points) -> {
        EndpointStats d = declared.get(endpoint);
        s.addSeries(EndpointSeries.newBuilder()
            .setName(endpoint)
            .setInstance(e.getKey())
            .setSlaMeanMillis(d == null ? 0 : d.getSlaMeanMillis())
            .setSlaP95Millis(d == null ? 0 : d.getSlaP95Millis())
            .addAllPoints(points));
      });
    }
    s.setStatus(!anyLive ? "stale" : allHealthy ? "healthy" : "unhealthy");
    s.addAllFailing(failing);
    return s.build();
  }
}
