package dev.skiff.kernel.monitoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.Kernel;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.proto.v1.HealthQuery;
import dev.skiff.testing.HeadlessChromium;
import dev.skiff.testing.RabbitMqExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The dashboard in a real headless Chromium: a service appears by itself, and turns red when its custom check fails. */
class DashboardBrowserTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  private static String panelStatus(String dom, String service) {
    Matcher m = Pattern.compile("data-service=\"" + Pattern.quote(service) + "\" data-status=\"([a-z]+)\"").matcher(dom);
    return m.find() ? m.group(1) : "absent";
  }

  /** @return points of the service's widget graphs, over its instances, with traffic, reported since {@code since} */
  private static long pointsWithTrafficSince(MonitoringService monitoring, String service, long since) {
    return monitoring.store().service(service).orElseThrow().getSeriesList().stream()
        .filter(e -> e.getName().equals("widget"))
        .flatMap(e -> e.getPointsList().stream())
        .filter(p -> p.getEpochMillis() > since && p.getRate() > 0)
        .count();
  }

  @Test
  void aServiceAppearsAndTurnsRedWhenItsCheckFails() throws Exception {
    assertThat(HeadlessChromium.binary()).as("no headless Chromium: run the tests with scripts/test.sh, which installs it").isNotNull();
    String name = MonitoringServiceTest.uniqueName();
    MonitoringService monitoring = new MonitoringService();
    try (Kernel kernel = Kernel.start(broker.transport(), Settings.fromEnvironment(Map.of()), List.of(monitoring), 0);
        Client client = Client.builder().transport(broker.transport()).build()) {
      String page = "http://127.0.0.1:" + kernel.web().port() + "/monitoring/";
      String before = HeadlessChromium.dumpDom(page, Duration.ofSeconds(3));
      assertThat(panelStatus(before, name)).isEqualTo("absent");

      MonitoredService svc = new MonitoredService(broker.transport(), name, "inst-a");
      MonitoredService other = new MonitoredService(broker.transport(), name, "inst-b");
      AtomicBoolean traffic = new AtomicBoolean(true);
      AtomicReference<RuntimeException> loadFailed = new AtomicReference<>();
      Thread load = new Thread(() -> {
        int i = 0;
        while (traffic.get()) {
          try {
            client.call(name, "widget", HealthQuery.newBuilder().setService("sleep:" + (i++ % 7)).build(), HealthQuery.class);
          } catch (RuntimeException e) {
            loadFailed.compareAndSet(null, e); // checked at the end: the widgets answer throughout
          }
        }
      }, "dashboard-test-load");
      load.setDaemon(true);
      load.start();
      try {
        for (int i = 0; i < 20; i++) {
          client.call(name, "widget", HealthQuery.getDefaultInstance(), HealthQuery.class);
        }
        Client withBadToken = client.withScope(CallScope.forUser("not-a-session-token"));
        for (int i = 0; i < 2; i++) {
          assertThatThrownBy(() -> withBadToken.call(name, "widget", HealthQuery.getDefaultInstance(), HealthQuery.class))
              .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHORIZED));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> monitoring.store().service(name).isPresent());
        // the page's state, as a browser shows it once its scripts ran: loaded again until it is there
        await("the page shows the service healthy").atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
          String healthy = HeadlessChromium.dumpDom(page, Duration.ofSeconds(3));
          assertThat(panelStatus(healthy, name)).isEqualTo("healthy");
          assertThat(healthy).contains("data-endpoint=\"widget\"").contains("<svg").contains("SLA p95 2000.0 ms")
              .contains("open to authenticated services; users with role ADMIN")
              .contains("refused 2 (2 not signed in, 0 not allowed)");
        });

        long failedFrom = System.currentTimeMillis();
        svc.widgetStore.fail("the widget store refuses connections");
        await().atMost(Duration.ofSeconds(10)).until(() -> monitoring.store().service(name).orElseThrow().getStatus().equals("unhealthy"));
        for (int i = 0; i < 20; i++) {
          client.call(name, "widget", HealthQuery.getDefaultInstance(), HealthQuery.class);
        }
        await("reports with traffic since the failure, so the graphs have points").atMost(Duration.ofSeconds(30))
            .until(() -> pointsWithTrafficSince(monitoring, name, failedFrom) >= 3);
        await("the page shows the service red with its failing check").atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
          String red = HeadlessChromium.dumpDom(page, Duration.ofSeconds(3));
          assertThat(panelStatus(red, name)).isEqualTo("unhealthy");
          assertThat(red).contains("widget-store [PAGE]: the widget store refuses connections");
        });

        Path shot = Path.of("target", "dashboard.png");
        HeadlessChromium.screenshot(page, shot, Duration.ofSeconds(3));
        assertThat(Files.size(shot)).isGreaterThan(10_000);
      } finally {
        traffic.set(false);
        load.join(30_000);
        svc.server.close();
        other.server.close();
      }
      assertThat(load.isAlive()).as("the load stopped").isFalse();
      assertThat(loadFailed.get()).as("every widget call of the load answered").isNull();
    }
  }
}
