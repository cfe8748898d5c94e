package dev.skiff.platform.metrics;

import com.codahale.metrics.MetricFilter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.graphite.Graphite;
import com.codahale.metrics.graphite.GraphiteReporter;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Reports a registry to Graphite over its plaintext protocol ({@code name value timestamp} lines on a
 * TCP connection), every metric under a prefix such as {@code skiff.com_example_greeter.INSTANCE}.
 * Rates are per second, durations in milliseconds. A Graphite that is down costs a failed connection
 * attempt per interval, logged by the reporter; the service is not affected.
 *
 * <p>Owns its reporter thread: {@link #close()} stops it after a last report.
 */
public final class GraphiteReporting implements AutoCloseable {
  private final GraphiteReporter reporter;

  private GraphiteReporting(GraphiteReporter reporter) {
    this.reporter = reporter;
  }

  /**
   * Starts reporting.
   *
   * @param registry the metrics
   * @param address the Graphite server (its name is resolved at each connection)
   * @param interval how often
   * @param prefix what every metric name starts with
   * @return the running reporter
   */
  public static GraphiteReporting start(MetricRegistry registry, InetSocketAddress address, Duration interval, String prefix) {
    Objects.requireNonNull(registry, "registry");
    Objects.requireNonNull(address, "address");
    Graphite graphite = new Graphite(address.getHostString(), address.getPort());
    GraphiteReporter r =
        GraphiteReporter.forRegistry(registry)
            .prefixedWith(prefix)
            .convertRatesTo(TimeUnit.SECONDS)
            .convertDurationsTo(TimeUnit.MILLISECONDS)
            .filter(MetricFilter.ALL)
            .build(graphite);
    r.start(interval.toMillis(), TimeUnit.MILLISECONDS);
    return new GraphiteReporting(r);
  }

  /**
   * The prefix of a service instance's metrics: dots in its name become underscores, so that each
   * service is one node of Graphite's tree.
   *
   * @param service the service's dotted name
   * @param instance the instance id
   * @return e.g. {@code skiff.com_example_greeter.3f2a}
   */
  public static String prefix(String service, String instance) {
    return "skiff." + service.replace('.', '_') + "." + instance.replace('.', '_');
  }

  /** Reports now, on the caller's thread. */
  public void reportNow() {
    reporter.report();
  }

  /** Stops reporting, after a last report. Idempotent. */
  @Override
  public void close() {
    reporter.close();
  }
}
