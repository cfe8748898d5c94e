package dev.skiff.kernel.monitoring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.kernel.Kernel;
import dev.skiff.kernel.discovery.DiscoveryService;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.proto.v1.HealthOverview;
import dev.skiff.proto.v1.HealthQuery;
import dev.skiff.proto.v1.ListServicesRequest;
import dev.skiff.proto.v1.ListServicesResponse;
import dev.skiff.testing.RabbitMqExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 24 for the kernel services a Skiff process depends on (discovery and monitoring): stopped for a
 * while and started again, cycle after cycle, they know a service that kept running again within
 * {@link #BOUND} — the instance is listed by discovery and its health reported by monitoring — with
 * nothing restarted in the service. While they are away, a call to them ends within its deadline with
 * a clear code. CI runs three short cycles; the long run (20 cycles, outages from 1 s to 70 s) runs with
 * {@code -Dskiff.faults.long=true}.
 */
class KernelRecoveryCyclesTest {
  /** From a kernel service starting to it knowing a running instance again (docs/reliability.md). */
  static final Duration BOUND = Duration.ofSeconds(10);

  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @Test
  void threeShortKernelOutagesEachRecoveredWithinTheBound() throws Exception {
    run("short", List.of(1L, 3L, 2L));
  }

  @Test
  @EnabledIfSystemProperty(named = "skiff.faults.long", matches = "true")
  void twentyKernelOutagesOfOneSecondToOverAMinuteEachRecoveredWithinTheBound() throws Exception {
    Random random = new Random(Long.getLong("skiff.faults.seed", System.nanoTime()));
    List<Long> outages = new ArrayList<>();
    for (int i = 1; i <= 20; i++) {
      outages.add(i % 4 == 0 ? 61L + random.nextInt(10) : 1L + random.nextInt(30));
    }
    run("long", outages);
  }

  private void run(String label, List<Long> outages) throws Exception {
    String name = MonitoringServiceTest.uniqueName();
    Settings settings = Settings.fromEnvironment(Map.of());
    MonitoredService svc = new MonitoredService(broker.transport(), name, "inst-k");
    List<Long> recoveries = new ArrayList<>();
    try (Client client = Client.builder().transport(broker.transport()).build()) {
      for (int n = 1; n <= outages.size(); n++) {
        long started = System.nanoTime();
        long millis;
        Kernel kernel = Kernel.start(broker.transport(), settings, List.of(new DiscoveryService(), new MonitoringService()), 0);
        try {
          millis = awaitKnown(client, name, started, n);
        } finally {
          kernel.close();
        }
        recoveries.add(millis);
        System.out.printf("kernel cycle %d: down %d s before, knew the instance again after %d ms%n", n, n == 1 ? 0 : outages.get(n - 2), millis);
        // while the kernel is away, a call to it ends within its deadline with a clear code
        assertThatThrownBy(() -> client.call(MonitoringService.SERVICE, MonitoringService.ENDPOINT, HealthQuery.newBuilder().setService(name).build(),
                HealthOverview.class, CallOptions.timeout(Duration.ofSeconds(1))))
            .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isIn(ErrorCode.NOT_FOUND, ErrorCode.TIMEOUT));
        Thread.sleep(TimeUnit.SECONDS.toMillis(outages.get(n - 1))); // the outage itself: a scenario, not a synchronisation
      }
    } finally {
      svc.server.close();
    }
    List<Long> sorted = new ArrayList<>(recoveries);
    sorted.sort(null);
    System.out.printf("kernel recovery (%s): %d cycles, outages %s s, recovery p50 %d ms, max %d ms, all within %d s%n",
        label, recoveries.size(), outages, sorted.get(sorted.size() / 2), sorted.get(sorted.size() - 1), BOUND.toSeconds());
  }

  /** Waits until discovery lists the instance and monitoring reports its health; returns how long it took. */
  private static long awaitKnown(Client client, String name, long started, int cycle) throws InterruptedException {
    long limit = started + BOUND.toNanos();
    while (true) {
      try {
        ListServicesResponse listed = client.call(DiscoveryService.SERVICE, "list", ListServicesRequest.newBuilder().setService(name).build(),
            ListServicesResponse.class, CallOptions.timeout(Duration.ofSeconds(1)));
        HealthOverview health = client.call(MonitoringService.SERVICE, MonitoringService.ENDPOINT, HealthQuery.newBuilder().setService(name).build(),
            HealthOverview.class, CallOptions.timeout(Duration.ofSeconds(1)));
        if (listed.getInstancesList().stream().anyMatch(i -> i.getAnnouncement().getInstance().equals("inst-k"))
            && health.getServicesList().stream().anyMatch(s -> s.getName().equals(name) && s.getStatus().equals("healthy"))) {
          return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        }
      } catch (SkiffException notYet) {
        // NOT_FOUND until the instance has been heard from: ask again
      }
      assertThat(System.nanoTime()).as("cycle %d: the kernel knew the instance again within %s", cycle, BOUND).isLessThan(limit);
      Thread.sleep(100);
    }
  }
}
