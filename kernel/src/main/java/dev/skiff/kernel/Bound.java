package dev.skiff.kernel;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.config.EnvVars;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.Priority;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bound of one store that grows with what arrives over the broker (docs/security.md, "Hostile
 * input"): at most {@link Limits#maxCount()} entries and {@link Limits#maxBytes()} bytes, the bytes
 * being the entries' serialized size. The store decides what to do at the bound (a registry of live
 * instances refuses newcomers and keeps what it knows; a trace store evicts its oldest) and tells the
 * bound, which
 *
 * <ul>
 *   <li>counts it: {@code skiff.kernel.bound.NAME.hit}, and shows the store's size as the gauges
 *       {@code skiff.kernel.bound.NAME.count} and {@code skiff.kernel.bound.NAME.bytes} ({@link #register});
 *   <li>logs it at WARN, the first time and then at most once a minute;
 *   <li>fails the kernel service's healthcheck {@code bounds} (priority WARN: the service is degraded, not
 *       down) while the store is at the bound: when it refused or evicted since the check last ran, or
 *       (a store that refuses) is full now ({@link #healthCheck}).
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class Bound {
  /** The prefix of the metrics of every bound. */
  public static final String METRIC_PREFIX = "skiff.kernel.bound.";
  /** How often the {@code bounds} healthcheck runs. */
  public static final Duration CHECK_INTERVAL = Duration.ofSeconds(5);
  private static final Logger log = LoggerFactory.getLogger(Bound.class);
  private static final long LOG_EVERY_NANOS = Duration.ofMinutes(1).toNanos();

  /**
   * How much a store may hold.
   *
   * @param maxCount entries at most
   * @param maxBytes bytes at most, counted as the entries' serialized size
   */
  public record Limits(int maxCount, long maxBytes) {
    /** Checks the values. */
    public Limits {
      if (maxCount <= 0) {
        throw new IllegalArgumentException("maxCount must be positive: " + maxCount);
      }
      if (maxBytes <= 0) {
        throw new IllegalArgumentException("maxBytes must be positive: " + maxBytes);
      }
    }

    /**
     * @param env environment variables
     * @param countVariable the variable of the count bound
     * @param defaultCount its default
     * @param bytesVariable the variable of the byte bound
     * @param defaultBytes its default
     * @return the limits the variables set
     * @throws IllegalArgumentException naming a variable whose value is not a positive whole number
     */
    public static Limits fromEnvironment(
        Map<String, String> env, String countVariable, int defaultCount, String bytesVariable, long defaultBytes) {
      return new Limits(EnvVars.positiveInt(env, countVariable, defaultCount), EnvVars.positiveLong(env, bytesVariable, defaultBytes));
    }
  }

  private final String name;
  private final Limits limits;
  private final boolean evicts;
  private final AtomicLong count = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();
  private final AtomicLong hitsSeenByCheck = new AtomicLong();
  private final AtomicLong lastLogNanos = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);
  private final AtomicLong hitsAtLastLog = new AtomicLong();
  private volatile Counter hits = new Counter();
  private volatile String lastWhat = "";

  /**
   * @param name the store's name in metrics and messages, e.g. {@code discovery-registry}
   * @param limits its limits
   * @param evicts true for a store that evicts its oldest entries to make room (being full is then its
   *     normal state, and only evictions fail the healthcheck); false for one that refuses newcomers
   */
  public Bound(String name, Limits limits, boolean evicts) {
    this.name = Objects.requireNonNull(name, "name");
    this.limits = Objects.requireNonNull(limits, "limits");
    this.evicts = evicts;
  }

  /** @return the store's name */
  public String name() {
    return name;
  }

  /** @return the limits */
  public Limits limits() {
    return limits;
  }

  /**
   * Counts into the kernel's metrics from now on (before, into a counter of its own).
   *
   * @param metrics the kernel's metrics
   * @return this
   */
  public Bound register(MetricRegistry metrics) {
    Counter c = metrics.counter(METRIC_PREFIX + name + ".hit");
    c.inc(hits.getCount());
    hits = c;
    metrics.gauge(METRIC_PREFIX + name + ".count", () -> (Gauge<Long>) count::get);
    metrics.gauge(METRIC_PREFIX + name + ".bytes", () -> (Gauge<Long>) bytes::get);
    return this;
  }

  /**
   * @param entries entries the store would hold
   * @param size bytes it would hold
   * @return whether that is within the bound
   */
  public boolean fits(long entries, long size) {
    return entries <= limits.maxCount() && size <= limits.maxBytes();
  }

  /**
   * Tells how much the store holds now (for the gauges and the healthcheck).
   *
   * @param entries its entries
   * @param size their bytes
   */
  public void holds(long entries, long size) {
    count.set(entries);
    bytes.set(size);
  }

  /** @return the entries the store said it holds */
  public long count() {
    return count.get();
  }

  /** @return the bytes the store said it holds */
  public long bytes() {
    return bytes.get();
  }

  /** @return how many times the store refused or evicted to stay within the bound */
  public long hits() {
    return hits.getCount();
  }

  /**
   * Counts one refusal or eviction, and logs it (at most once a minute).
   *
   * @param what what was refused or evicted, as a phrase with nothing from the message in it, e.g.
   *     {@code "an announcement of a new instance"}
   */
  public void hit(String what) {
    hits.inc();
    lastWhat = what;
    long now = System.nanoTime();
    long last = lastLogNanos.get();
    if (now - last >= LOG_EVERY_NANOS && lastLogNanos.compareAndSet(last, now)) {
      long total = hits.getCount();
      long since = total - hitsAtLastLog.getAndSet(total);
      log.warn("{} is at its bound ({}): {} ({} time(s) since the last line); see docs/security.md, Hostile input",
          name, usage(), what, since);
    }
  }

  private String usage() {
    return count.get() + " of " + limits.maxCount() + " entries, " + bytes.get() + " of " + limits.maxBytes() + " bytes";
  }

  /**
   * The healthcheck of some bounds (a kernel service registers it as {@code bounds}): priority WARN,
   * every {@link #CHECK_INTERVAL}; unhealthy, naming each bound, while any of them is at its bound.
   *
   * @param bounds the bounds of the service's stores
   * @return the check
   */
  public static HealthCheck healthCheck(List<Bound> bounds) {
    List<Bound> all = List.copyOf(bounds);
    return new HealthCheck() {
      @Override
      protected Result check() {
        List<String> at = new ArrayList<>();
        List<String> within = new ArrayList<>();
        for (Bound b : all) {
          String problem = b.problem();
          if (problem == null) {
            within.add(b.name + ": " + b.usage());
          } else {
            at.add(problem);
          }
        }
        return at.isEmpty() ? Result.healthy(String.join("; ", within))
            : Result.unhealthy(String.join("; ", at) + " (docs/security.md, Hostile input)");
      }

      @Override
      public Priority priority() {
        return Priority.WARN;
      }

      @Override
      public Duration interval() {
        return CHECK_INTERVAL;
      }
    };
  }

  /** @return why the store is at its bound, or null when it is not; notes the hits seen */
  private String problem() {
    long total = hits.getCount();
    long recent = total - hitsSeenByCheck.getAndSet(total);
    boolean full = !evicts && (count.get() >= limits.maxCount() || bytes.get() >= limits.maxBytes());
    if (recent <= 0 && !full) {
      return null;
    }
    String verb = evicts ? "evicted" : "refused";
    return name + " is at its bound (" + usage() + ")"
        + (recent > 0 ? ": " + verb + " " + recent + " since the last check, the last " + lastWhat : "");
  }
}
