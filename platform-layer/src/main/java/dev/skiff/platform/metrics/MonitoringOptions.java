package dev.skiff.platform.metrics;

import dev.skiff.platform.config.EnvVars;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Whether a service measures its traffic, where its metrics go, and how often it publishes its health.
 * Immutable; read from the environment by default.
 *
 * <table>
 *   <caption>Environment variables</caption>
 *   <tr><th>variable</th><th>meaning</th><th>default</th></tr>
 *   <tr><td>SKIFF_METRICS</td><td>{@code on} or {@code off}: per-endpoint metrics and their healthchecks</td><td>on</td></tr>
 *   <tr><td>SKIFF_GRAPHITE</td><td>{@code host:port} of a Graphite (plaintext protocol) to report to</td><td>none</td></tr>
 *   <tr><td>SKIFF_GRAPHITE_INTERVAL</td><td>how often to report to Graphite</td><td>10s</td></tr>
 *   <tr><td>SKIFF_HEALTH_INTERVAL</td><td>how often health and a metrics summary are published</td><td>5s</td></tr>
 * </table>
 *
 * @param metricsEnabled whether per-endpoint metrics are kept (off: no per-call work at all)
 * @param graphite the Graphite server to report to, if any
 * @param graphiteInterval how often to report to Graphite
 * @param publishInterval how often health and metrics are published over pub/sub
 */
public record MonitoringOptions(
    boolean metricsEnabled, Optional<InetSocketAddress> graphite, Duration graphiteInterval, Duration publishInterval) {

  /** Checks the arguments. */
  public MonitoringOptions {
    Objects.requireNonNull(graphite, "graphite");
    positive(graphiteInterval, "graphiteInterval");
    positive(publishInterval, "publishInterval");
  }

  /** @return metrics on, no Graphite, health published every 5 seconds */
  public static MonitoringOptions defaults() {
    return new MonitoringOptions(true, Optional.empty(), Duration.ofSeconds(10), Duration.ofSeconds(5));
  }

  /**
   * Options from this process's environment.
   *
   * @return the options
   * @throws IllegalArgumentException naming the variable whose value is invalid
   */
  public static MonitoringOptions fromEnvironment() {
    return fromEnvironment(System.getenv());
  }

  /**
   * Options from a map of environment variables.
   *
   * @param env the variables
   * @return the options
   * @throws IllegalArgumentException naming the variable whose value is invalid
   */
  public static MonitoringOptions fromEnvironment(Map<String, String> env) {
    MonitoringOptions d = defaults();
    boolean enabled = d.metricsEnabled;
    Optional<String> m = EnvVars.nonBlank(env, "SKIFF_METRICS");
    if (m.isPresent()) {
      switch (m.get().toLowerCase(java.util.Locale.ROOT)) {
        case "on", "true", "1" -> enabled = true;
        case "off", "false", "0" -> enabled = false;
        default -> throw new IllegalArgumentException("SKIFF_METRICS must be 'on' or 'off', not '" + m.get() + "'");
      }
    }
    Optional<InetSocketAddress> graphite =
        EnvVars.nonBlank(env, "SKIFF_GRAPHITE").map(g -> parseHostPort("SKIFF_GRAPHITE", g));
    return new MonitoringOptions(
        enabled,
        graphite,
        EnvVars.positiveDuration(env, "SKIFF_GRAPHITE_INTERVAL", d.graphiteInterval),
        EnvVars.positiveDuration(env, "SKIFF_HEALTH_INTERVAL", d.publishInterval));
  }

  /** @param on whether per-endpoint metrics are kept @return a copy */
  public MonitoringOptions withMetrics(boolean on) {
    return new MonitoringOptions(on, graphite, graphiteInterval, publishInterval);
  }

  /** @param address the Graphite server, or null for none @param interval how often @return a copy */
  public MonitoringOptions withGraphite(InetSocketAddress address, Duration interval) {
    return new MonitoringOptions(metricsEnabled, Optional.ofNullable(address), interval, publishInterval);
  }

  /** @param interval how often health is published @return a copy */
  public MonitoringOptions withPublishInterval(Duration interval) {
    return new MonitoringOptions(metricsEnabled, graphite, graphiteInterval, interval);
  }

  /**
   * Parses {@code host:port}.
   *
   * @param variable the setting's name, for the error
   * @param value the value
   * @return the address (unresolved: resolved when connecting)
   * @throws IllegalArgumentException naming the variable when the value is not host:port
   */
  static InetSocketAddress parseHostPort(String variable, String value) {
    int colon = value.lastIndexOf(':');
    String problem = null;
    if (colon <= 0 || colon == value.length() - 1) {
      problem = "it has no port";
    } else {
      String host = value.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      try {
        int port = Integer.parseInt(value.substring(colon + 1));
        if (port > 0 && port <= 65535 && !host.isBlank() && !host.contains("/")) {
          return InetSocketAddress.createUnresolved(host, port);
        }
        problem = port > 0 && port <= 65535 ? "the host is not valid" : "the port is out of range";
      } catch (NumberFormatException e) {
        problem = "the port is not a number";
      }
    }
    throw new IllegalArgumentException(
        variable + " must be host:port (e.g. graphite.example.com:2003), not '" + value + "': " + problem);
  }

  private static void positive(Duration d, String name) {
    Objects.requireNonNull(d, name);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + " must be positive: " + d);
    }
  }
}
