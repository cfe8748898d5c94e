package dev.skiff.platform.server;

import dev.skiff.platform.health.ServiceMonitor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** A server's endpoints as its monitor sees them: name, SLA, handler timer and who may call it. */
final class MonitoredEndpoints {
  private MonitoredEndpoints() {}

  static List<ServiceMonitor.MonitoredEndpoint> of(Collection<Endpoint<?, ?>> endpoints, ServerCounters counters) {
    List<ServiceMonitor.MonitoredEndpoint> out = new ArrayList<>();
    for (Endpoint<?, ?> e : endpoints) {
      Endpoint.Sla sla = e.sla();
      out.add(new ServiceMonitor.MonitoredEndpoint(
          e.name(),
          sla == null ? null : sla.mean(),
          sla == null ? null : sla.p95(),
          sla == null ? Endpoint.Sla.DEFAULT_MAX_ERROR_RATE : sla.maxErrorRate(),
          counters.timer(e.name()),
          e.access().toString()));
    }
    return out;
  }
}
