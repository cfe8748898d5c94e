package dev.skiff.kernel.monitoring;

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
 * {@link #FORGET_INTERVALS} it is forgotten, and a service with no instance left with it. Thread-safe.
 */
public final class HealthStore {
  /** Missed intervals after which an instance counts as stale. */
  public static final int STALE_INTERVALS = 3;
  /** Missed intervals after which an instance is forgotten. */
  public static final int FORGET_INTERVALS = 60;

  private final Clock clock;
  private final int historySize;
  private final Map<String, Map<String, Instance>> services = new TreeMap<>();

  private static final class Instance {
    HealthReport latest;
    long receivedMillis;
    final Map<String, Deque<EndpointPoint>> history = new TreeMap<>();
  }

  /**
   * @param clock the clock staleness is judged by
   * @param historySize how many points to keep per endpoint and instance
   */
  public HealthStore(Clock clock, int historySize) {
    this.clock = Objects.requireNonNull(clock, "clock");
    if (historySize <= 0) {
      throw new IllegalArgumentException("historySize must be positive: " + historySize);
    }
    this.historySize = historySize;
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
    Instance inst = services.computeIfAbsent(report.getService(), k -> new TreeMap<>())
        .computeIfAbsent(report.getInstance(), k -> new Instance());
    HealthReport previous = inst.latest;
    if (previous != null && previous.getSentEpochMillis() >= report.getSentEpochMillis()) {
      return;
    }
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
      Deque<EndpointPoint> points = inst.history.computeIfAbsent(e.getName(), k -> new ArrayDeque<>());
      points.addLast(EndpointPoint.newBuilder()
          .setEpochMillis(report.getSentEpochMillis())
          .setRate(rate)
          .setErrorRate(errorRate)
          .setMeanMillis(e.getMeanMillis())
          .setP95Millis(e.getP95Millis())
          .build());
      while (points.size() > historySize) {
        points.removeFirst();
      }
    }
    inst.latest = report;
    inst.receivedMillis = clock.millis();
  }

  /** @return every known service's status, by name */
  public synchronized HealthOverview overview() {
    forgetOld();
    HealthOverview.Builder o = HealthOverview.newBuilder().setEpochMillis(clock.millis());
    services.forEach((name, instances) -> o.addServices(status(name, instances)));
    return o.build();
  }

  /**
   * @param name a service's name
   * @return its status, if it has reported
   */
  public synchronized Optional<ServiceStatus> service(String name) {
    forgetOld();
    Map<String, Instance> instances = services.get(name);
    return instances == null ? Optional.empty() : Optional.of(status(name, instances));
  }

  /** @return the names of the services known, sorted */
  public synchronized List<String> names() {
    forgetOld();
    return List.copyOf(services.keySet());
  }

  private boolean stale(Instance i, long now) {
    return now - i.receivedMillis > STALE_INTERVALS * Math.max(1, i.latest.getIntervalMillis());
  }

  private void forgetOld() {
    long now = clock.millis();
    services.values().forEach(m -> m.values().removeIf(i -> now - i.receivedMillis > FORGET_INTERVALS * Math.max(1, i.latest.getIntervalMillis())));
    services.values().removeIf(Map::isEmpty);
  }

  private ServiceStatus status(String name, Map<String, Instance> instances) {
    long now = clock.millis();
    ServiceStatus.Builder s = ServiceStatus.newBuilder().setName(name);
    boolean anyLive = false;
    boolean allHealthy = true;
    List<String> failing = new ArrayList<>();
    for (Map.Entry<String, Instance> e : instances.entrySet()) {
      Instance i = e.getValue();
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
