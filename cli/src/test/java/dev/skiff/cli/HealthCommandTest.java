package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.server.Server;
import dev.skiff.proto.v1.HealthQuery;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code skiff health} against the monitoring service on the real broker. */
class HealthCommandTest {
  @RegisterExtension static final TestKernel kernel = new TestKernel(() -> List.of(new MonitoringService()));
  static Server server;
  static String name;
  static final AtomicBoolean broken = new AtomicBoolean();

  @BeforeAll
  static void start() {
    name = "test.health" + EchoService.randomHex(3);
    server = Server.builder(name).version("2.0.0").instanceId("h1").transport(kernel.transport())
        .monitoring(MonitoringOptions.defaults().withPublishInterval(Duration.ofMillis(300)))
        .endpoint("ping", HealthQuery.class, HealthQuery.class, (q, ctx) -> q)
        .healthCheck("cache", new HealthCheck() {
          @Override
          protected Result check() {
            return broken.get() ? Result.unhealthy("cache is 98% full") : Result.healthy("cache has room");
          }

          @Override
          public Duration interval() {
            return Duration.ofMillis(200);
          }
        })
        .build().start();
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void listsServicesThenDetailsOneThenShowsAFailure() {
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      Skiff.Result all = Skiff.run("health");
      assertThat(all.out()).as(all.toString()).containsPattern(name.replace(".", "\\.") + " +healthy +1/1 +2\\.0\\.0");
    });
    Skiff.Result one = Skiff.run("health", name);
    assertThat(one.exitCode()).as(one.toString()).isZero();
    assertThat(one.out()).startsWith(name + ": healthy").contains("instance h1  version 2.0.0  healthy")
        .containsPattern("ok +cache +NOTIFY +cache has room").containsPattern("ok +broker +PAGE").contains("server ping");

    broken.set(true);
    try {
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        Skiff.Result r = Skiff.run("health", name);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
        assertThat(r.out()).startsWith(name + ": unhealthy").containsPattern("FAIL +cache +NOTIFY +cache is 98% full");
      });
      Skiff.Result all = Skiff.run("health");
      assertThat(all.out()).contains("  FAILING h1: cache [NOTIFY]: cache is 98% full");
      Skiff.Result json = Skiff.run("health", name, "--json");
      assertThat(json.out()).contains("\"status\": \"unhealthy\"");
    } finally {
      broken.set(false); // the class's service is healthy again for whatever test runs next
    }
  }

  @Test
  void aBadGraphiteAddressStopsTheKernelWithAnErrorNamingTheVariable() {
    Skiff.Result r = Skiff.run(Map.of("SKIFF_GRAPHITE", "graphite"), "kernel");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(r.err()).contains("SKIFF_GRAPHITE must be host:port (e.g. graphite.example.com:2003), not 'graphite': it has no port");
  }

  @Test
  void anUnknownServiceIsNamedInTheError() {
    Skiff.Result r = Skiff.run("health", "no.such.service");
    assertThat(r.exitCode()).as(r.toString()).isEqualTo(SkiffCli.EXIT_CALL_FAILED);
    assertThat(r.err()).startsWith("NOT_FOUND: no service 'no.such.service' has published its health lately (known: ");
    assertThat(r.out()).isEmpty();
  }
}
