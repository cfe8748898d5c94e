package dev.skiff.kernel.trace;

import dev.skiff.kernel.Bound;
import dev.skiff.proto.v1.Span;
import dev.skiff.proto.v1.SpanKind;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Which services call which, from the spans of sampled traces over a sliding window (one-minute
 * buckets): calls and errors per caller → callee arc (from client spans), requests and errors per
 * service (from server spans).
 *
 * <p><b>Bounded</b> ({@link Bound} {@code trace-graph}, docs/security.md "Hostile input"): at most
 * {@link #LIMITS} counters over the window (one per service or arc and minute; each counts as its name's
 * length and 16 bytes). At the bound a span that would need a new counter is left out of the graph and
 * counted; the counters known go on counting. Thread-safe.
 */
public final class ServiceGraph {
  /** Stands for a caller that records no spans (a tool or an untraced service). */
  public static final String OUTSIDE = "(outside)";

  /** The bound: 50,000 counters, 8 MiB. */
  public static final Bound.Limits LIMITS = new Bound.Limits(50_000, 8L << 20);

  private final Clock clock;
  private final long windowMinutes;
  private final Bound bound = new Bound("trace-graph", LIMITS, false);
  private long entries;
  private long bytes;
  private final TreeMap<Long, Map<String, long[]>> arcs = new TreeMap<>();
  private final TreeMap<Long, Map<String, long[]>> served = new TreeMap<>();

  /**
   * An arc: calls from one service to another.
   *
   * @param from the calling service
   * @param to the called service
   * @param calls attempts seen in sampled traces
   * @param errors those that failed
   */
  public record Arc(String from, String to, long calls, long errors) {
    /** @return errors / calls, 0 when there were none */
    public double errorRate() {
      return calls == 0 ? 0 : (double) errors / calls;
    }
  }

  /**
   * A service.
   *
   * @param service its name
   * @param requests requests it served in sampled traces
   * @param errors those answered with an error
   * @param health its health: from the monitoring service when it knows, else from the error rate
   * @param fromMonitoring whether the health came from the monitoring service
   */
  public record Node(String service, long requests, long errors, HealthSource.Health health, boolean fromMonitoring) {
    /** @return errors / requests, 0 when there were none */
    public double errorRate() {
      return requests == 0 ? 0 : (double) errors / requests;
    }
  }

  /**
   * The graph at one moment.
   *
   * @param nodes the services, by name
   * @param arcs the arcs, by caller then callee
   * @param window the span of time it covers
   */
  public record Snapshot(List<Node> nodes, List<Arc> arcs, Duration window) {}

  /**
   * @param clock the time source
   * @param window how far back the graph looks (rounded up to whole minutes)
   */
  public ServiceGraph(Clock clock, Duration window) {
    this.clock = Objects.requireNonNull(clock, "clock");
    if (window.isNegative() || window.isZero()) {
      throw new IllegalArgumentException("window must be positive: " + window);
    }
    this.windowMinutes = Math.max(1, (window.toSeconds() + 59) / 60);
  }

  /**
   * Counts spans in.
   *
   * @param spans the spans
   */
  public synchronized void add(List<Span> spans) {
    long minute = clock.millis() / 60_000;
    Map<String, long[]> a = arcs.computeIfAbsent(minute, m -> new HashMap<>());
    Map<String, long[]> s = served.computeIfAbsent(minute, m -> new HashMap<>());
    for (Span span : spans) {
      boolean error = !span.getErrorCode().isEmpty();
      if (span.getKind() == SpanKind.SPAN_KIND_CLIENT) {
        count(a, span.getService() + "\n" + span.getRemoteService(), error);
      } else {
        count(s, span.getService(), error);
        if (span.getParentSpanId().isEmpty()) {
          String from = span.getRemoteService().isEmpty() ? OUTSIDE : span.getRemoteService();
          count(a, from + "\n" + span.getService(), error);
        }
      }
    }
    expire(minute);
  }

  private void count(Map<String, long[]> m, String key, boolean error) {
    long[] c = m.get(key);
    if (c == null) {
      if (!bound.fits(entries + 1, bytes + weight(key))) {
        bound.hit("a span was left out of the service graph");
        return;
      }
      c = new long[2];
      m.put(key, c);
      entries++;
      bytes += weight(key);
    }
    c[0]++;
    if (error) {
      c[1]++;
    }
  }

  private static long weight(String key) {
    return key.length() + 16L;
  }

  private void expire(long minute) {
    for (TreeMap<Long, Map<String, long[]>> m : List.of(arcs, served)) {
      Iterator<Map.Entry<Long, Map<String, long[]>>> it = m.entrySet().iterator();
      while (it.hasNext()) {
        Map.Entry<Long, Map<String, long[]>> e = it.next();
        if (e.getKey() > minute - windowMinutes) {
          break;
        }
        for (String k : e.getValue().keySet()) {
          entries--;
          bytes -= weight(k);
        }
        it.remove();
      }
    }
    bound.holds(entries, bytes);
  }

  /** @return the graph's bound (its size, what it left out) */
  public Bound bound() {
    return bound;
  }

  /**
   * @param health the monitoring service's view, or {@link HealthSource#NONE}
   * @return the graph now
   */
  public Snapshot snapshot(HealthSource health) {
    Map<String, long[]> arcTotals = new TreeMap<>();
    Map<String, long[]> servedTotals = new TreeMap<>();
    synchronized (this) {
      expire(clock.millis() / 60_000);
      arcs.values().forEach(m -> m.forEach((k, v) -> add(arcTotals, k, v)));
      served.values().forEach(m -> m.forEach((k, v) -> add(servedTotals, k, v)));
    }
    TreeSet<String> names = new TreeSet<>(servedTotals.keySet());
    List<Arc> arcList = new ArrayList<>();
    arcTotals.forEach((k, v) -> {
      int nl = k.indexOf('\n');
      Arc arc = new Arc(k.substring(0, nl), k.substring(nl + 1), v[0], v[1]);
      arcList.add(arc);
      names.add(arc.from());
      names.add(arc.to());
    });
    List<Node> nodes = new ArrayList<>();
    for (String n : names) {
      long[] c = servedTotals.getOrDefault(n, new long[2]);
      var monitored = n.equals(OUTSIDE) ? java.util.Optional.<HealthSource.Health>empty() : health.health(n);
      HealthSource.Health h = monitored.orElseGet(() -> byErrorRate(c[0], c[1]));
      nodes.add(new Node(n, c[0], c[1], h, monitored.isPresent()));
    }
    return new Snapshot(nodes, arcList, Duration.ofMinutes(windowMinutes));
  }

  private static void add(Map<String, long[]> totals, String key, long[] v) {
    long[] t = totals.computeIfAbsent(key, x -> new long[2]);
    t[0] += v[0];
    t[1] += v[1];
  }

  /**
   * @param requests requests seen
   * @param errors errors among them
   * @return OK under 1% errors, WARNING under 5%, else CRITICAL
   */
  public static HealthSource.Health byErrorRate(long requests, long errors) {
    if (requests == 0 || errors * 100 < requests) {
      return HealthSource.Health.OK;
    }
    return errors * 20 < requests ? HealthSource.Health.WARNING : HealthSource.Health.CRITICAL;
  }
}
