package dev.skiff.kernel.monitoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.Kernel;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.proto.v1.HealthOverview;
import dev.skiff.proto.v1.HealthQuery;
import dev.skiff.proto.v1.ServiceStatus;
import dev.skiff.testing.RabbitMqExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The monitoring service on a real RabbitMQ: collects published health, serves JSON and RPC, survives restarts. */
class MonitoringServiceTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  static String uniqueName() {
    return "test.widgets" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
  }

  static String get(String url) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  @Test
  void collectsHealthServesItAndShowsAFailingCheck() throws Exception {
    String name = uniqueName();
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(new MonitoringService()), 0);
        Client client = Client.builder().transport(broker.transport()).build()) {
      MonitoredService svc = new MonitoredService(broker.transport(), name, "inst-a");
      try {
        for (int i = 0; i < 5; i++) {
          client.call(name, "widget", HealthQuery.newBuilder().setService("x").build(), HealthQuery.class);
        }
        String base = "http://127.0.0.1:" + kernel.web().port();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
            assertThat(get(base + "/monitoring/api/services/" + name)).contains("\"status\": \"healthy\"").contains("inst-a"));
        assertThat(get(base + "/")).contains("href=\"/monitoring\"");
        assertThat(get(base + "/monitoring/")).contains("<title>Skiff monitoring</title>");

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
          ServiceStatus s = overview(client, name).getServices(0);
          assertThat(s.getSeriesList()).anySatisfy(e -> {
            assertThat(e.getName()).isEqualTo("widget");
            assertThat(e.getSlaP95Millis()).isEqualTo(2000.0);
            assertThat(e.getPointsCount()).isGreaterThan(1);
          });
        });

        svc.widgetStore.fail("the widget store refuses connections");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
          ServiceStatus s = overview(client, name).getServices(0);
          assertThat(s.getStatus()).isEqualTo("unhealthy");
          assertThat(s.getFailingList()).containsExactly("inst-a: widget-store [PAGE]: the widget store refuses connections");
        });

        assertThatThrownBy(() -> overview(client, "no.such.service"))
            .isInstanceOfSatisfying(SkiffException.class, e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND);
              assertThat(e.description()).contains("no service 'no.such.service' has published its health").contains(name);
            });
        assertThat(get(base + "/monitoring/api/services/no.such.service")).contains("NOT_FOUND").contains("no.such.service");
        // not a service's name: a bad request, over RPC and HTTP, escaped
        assertThatThrownBy(() -> overview(client, "Not A Name\u001b[2J"))
            .isInstanceOfSatisfying(SkiffException.class, e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
              assertThat(e.description()).contains("is not a service name").doesNotContain("\u001b");
            });
        assertThat(get(base + "/monitoring/api/services/Not%20A%20Name%3Cb%3E")).contains("BAD_REQUEST").doesNotContain("<b>");
      } finally {
        svc.server.close();
      }
    }
  }

  @Test
  void aRestartedOrExtraCopyRebuildsItsStateFromThePublications() {
    String name = uniqueName();
    MonitoredService a = new MonitoredService(broker.transport(), name, "inst-a");
    MonitoredService b = new MonitoredService(broker.transport(), name, "inst-b");
    try {
      for (int copy = 0; copy < 2; copy++) {
        MonitoringService monitoring = new MonitoringService();
        try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(monitoring), 0)) {
          await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(monitoring.store().service(name)).isPresent();
            ServiceStatus s = monitoring.store().service(name).get();
            assertThat(s.getInstancesList()).extracting(i -> i.getLatest().getInstance()).containsExactly("inst-a", "inst-b");
            assertThat(s.getStatus()).isEqualTo("healthy");
          });
          assertThat(kernel.services()).hasSize(1);
          if (copy == 1) {
            // an instance that stops cleanly leaves the view at once (its last report says so), not after minutes as stale
            b.server.close();
            await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertThat(monitoring.store().service(name).orElseThrow()
                .getInstancesList()).extracting(i -> i.getLatest().getInstance()).containsExactly("inst-a"));
            assertThat(monitoring.store().service(name).orElseThrow().getStatus()).isEqualTo("healthy");
          }
        }
      }
    } finally {
      a.server.close();
      b.server.close();
    }
  }

  private static HealthOverview overview(Client client, String service) {
    return client.call(MonitoringService.SERVICE, MonitoringService.ENDPOINT,
        HealthQuery.newBuilder().setService(service).build(), HealthOverview.class);
  }
}
