package dev.skiff.kernel.monitoring;

import dev.skiff.platform.health.SwitchableCheck;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.Transport;
import dev.skiff.proto.v1.HealthQuery;
import java.time.Duration;

/** A service for the monitoring tests, with a custom check the test makes fail. */
final class MonitoredService {
  /** The service's custom check, {@code widget-store}: fails once the test gives it a reason. */
  final SwitchableCheck widgetStore = new SwitchableCheck(Duration.ofMillis(200), "the widget store answers");
  final Server server;

  MonitoredService(Transport transport, String name, String instance) {
    server = Server.builder(name)
        .version("1.2.3")
        .instanceId(instance)
        .description("makes widgets")
        .transport(transport)
        .monitoring(MonitoringOptions.defaults().withPublishInterval(Duration.ofMillis(300)))
        .endpoint(Endpoint.of("widget", HealthQuery.class, HealthQuery.class, (q, ctx) -> {
              if (q.getService().startsWith("sleep:")) {
                try {
                  Thread.sleep(Long.parseLong(q.getService().substring(6)));
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
              return q;
            })
            .asIdempotent()
            .withSla(Duration.ofSeconds(1), Duration.ofSeconds(2)))
        .healthCheck("widget-store", widgetStore)
        .build()
        .start();
  }
}
