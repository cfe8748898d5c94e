package dev.skiff.platform.client;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongSupplier;

/**
 * A gauge that adds up a figure of every client sharing a metric registry: a process with more than one
 * client (the gateway and the kernel each have one for calls and one for sign-ins) shows all their calls
 * in flight under one name, as their shared counters already do, where a gauge of one client's own would
 * show the first client's alone (a registry keeps the first gauge registered under a name). A client
 * takes its part out when it closes. Thread-safe.
 */
final class SummedGauge implements Gauge<Long> {
  private final List<LongSupplier> parts = new CopyOnWriteArrayList<>();

  private SummedGauge() {}

  /**
   * Adds a part to the gauge of that name, registering the gauge with the first part.
   *
   * @param metrics the registry
   * @param name the gauge's name
   * @param part the figure of one client
   * @return what takes the part out again; does nothing if the name holds a gauge of another kind
   */
  static Runnable add(MetricRegistry metrics, String name, LongSupplier part) {
    Gauge<?> g = metrics.gauge(name, SummedGauge::new);
    if (!(g instanceof SummedGauge sum)) {
      return () -> {};
    }
    sum.parts.add(part);
    return () -> sum.parts.remove(part);
  }

  @Override
  public Long getValue() {
    long total = 0;
    for (LongSupplier p : parts) {
      total += p.getAsLong();
    }
    return total;
  }
}
