package dev.skiff.platform.health;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.regex.Pattern;

/**
 * A service's healthchecks: the built-in ones, the author's, and one per service-layer client (each
 * client registers its own when it is created with this registry). An object passed around, not a
 * global: a server has one ({@code Server.health()}).
 *
 * <pre>{@code
 * CassandraClient cassandra = CassandraClient.create(config, server.health());  // registers "cassandra"
 * server.health().register("disk", new DiskSpace());
 * }</pre>
 *
 * <p>Thread-safe. Checks run when {@link #runDue(Instant)} (the service's health thread) or
 * {@link #runAll()} is called; {@link #results()} returns the latest result of each.
 */
public final class HealthChecks {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,199}");

  private final Map<String, Registered> checks = new ConcurrentSkipListMap<>();

  /** Creates an empty registry. */
  public HealthChecks() {}

  /**
   * A registered check's latest state.
   *
   * @param name the name it was registered under
   * @param priority who must hear when it fails
   * @param interval how often it runs
   * @param result its latest result, or null before its first run
   */
  public record Status(String name, Priority priority, Duration interval, HealthCheck.Result result) {}

  private static final class Registered {
    final String name;
    final HealthCheck check;
    final Priority priority;
    final Duration interval;
    volatile HealthCheck.Result last;
    volatile Instant next = Instant.EPOCH;

    Registered(String name, HealthCheck check, Priority priority, Duration interval) {
      this.name = name;
      this.check = check;
      this.priority = priority;
      this.interval = interval;
    }

    synchronized HealthCheck.Result run() {
      HealthCheck.Result r = check.execute();
      last = r;
      next = r.checkedAt().plus(interval);
      return r;
    }
  }

  /**
   * Registers a check with the priority and interval it declares.
   *
   * @param name a name unique in this service, e.g. {@code cassandra} or {@code disk}
   * @param check the check
   * @throws IllegalArgumentException if the name is taken or invalid
   */
  public void register(String name, HealthCheck check) {
    Objects.requireNonNull(check, "check");
    register(name, check.priority(), check.interval(), check);
  }

  /**
   * Registers a check.
   *
   * @param name a name unique in this service
   * @param priority who must hear when it fails
   * @param interval how often it runs (at least 100 ms)
   * @param check the check
   * @throws IllegalArgumentException if the name is taken or invalid, or the interval too short
   */
  public void register(String name, Priority priority, Duration interval, HealthCheck check) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(priority, "priority");
    Objects.requireNonNull(interval, "interval");
    Objects.requireNonNull(check, "check");
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("invalid healthcheck name '" + name + "': use letters, digits, '.', '_', '/' and '-'");
    }
    if (interval.compareTo(Duration.ofMillis(100)) < 0) {
      throw new IllegalArgumentException("healthcheck '" + name + "' interval must be at least 100ms: " + interval);
    }
    if (checks.putIfAbsent(name, new Registered(name, check, priority, interval)) != null) {
      throw new IllegalArgumentException("a healthcheck named '" + name + "' is already registered");
    }
  }

  /**
   * Removes a check (a client that closes removes its own).
   *
   * @param name the check's name
   * @return whether there was one
   */
  public boolean unregister(String name) {
    return checks.remove(name) != null;
  }

  /** @return the names of the registered checks, sorted */
  public List<String> names() {
    return List.copyOf(checks.keySet());
  }

  /**
   * Runs every check whose interval has passed since its last run.
   *
   * @param now the time
   * @return how many ran
   */
  public int runDue(Instant now) {
    int n = 0;
    for (Registered r : checks.values()) {
      if (!now.isBefore(r.next)) {
        r.run();
        n++;
      }
    }
    return n;
  }

  /**
   * Runs every check now.
   *
   * @return the results, by name, sorted
   */
  public Map<String, HealthCheck.Result> runAll() {
    Map<String, HealthCheck.Result> out = new java.util.TreeMap<>();
    for (Registered r : checks.values()) {
      out.put(r.name, r.run());
    }
    return out;
  }

  /**
   * Runs one check now.
   *
   * @param name its name
   * @return its result
   * @throws IllegalArgumentException if there is no such check
   */
  public HealthCheck.Result run(String name) {
    Registered r = checks.get(name);
    if (r == null) {
      throw new IllegalArgumentException("no healthcheck named '" + name + "' (registered: " + names() + ")");
    }
    return r.run();
  }

  /** @return every check with its latest result (null before its first run), sorted by name */
  public List<Status> results() {
    List<Status> out = new ArrayList<>(checks.size());
    for (Registered r : checks.values()) {
      out.add(new Status(r.name, r.priority, r.interval, r.last));
    }
    return out;
  }

  /** @return true when every check that has run was healthy at its last run */
  public boolean isHealthy() {
    for (Registered r : checks.values()) {
      HealthCheck.Result last = r.last;
      if (last != null && !last.healthy()) {
        return false;
      }
    }
    return true;
  }
}
