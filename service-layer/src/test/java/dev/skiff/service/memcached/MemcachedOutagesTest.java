package dev.skiff.service.memcached;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.service.FaultCycles;
import dev.skiff.service.StoreUnavailableAtStart;
import dev.skiff.service.TestStores;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * memcached going away and coming back, again and again, against private memcached processes: calls
 * fail fast with UNAVAILABLE while it is gone, and after each return the client is fully working again
 * within the bound; also a client started while memcached is down, one that requires it at start, and
 * connections left half-open.
 */
class MemcachedOutagesTest {
  /** Memcached's documented recovery bound (5 s, from memcached answering to fully working), with a 5 s margin. */
  private static final Duration BOUND = Duration.ofSeconds(10);

  private final MetricRegistry metrics = new MetricRegistry();
  private final HealthCheckRegistry health = new HealthCheckRegistry();

  private Memcached.Builder builder(String hosts) {
    return Memcached.builder().config(Config.of(Map.of("memcached.hosts", hosts, "memcached.timeout", "500ms")))
        .metrics(metrics).healthChecks(health);
  }

  private Callable<String> whatFails(Memcached m) {
    return () -> {
      String key = "k-" + UUID.randomUUID();
      m.setString(key, "v", Duration.ofMinutes(1));
      Optional<String> read = m.getString(key);
      return !read.equals(Optional.of("v")) ? "read back " + read
          : !health.runHealthCheck("memcached").isHealthy() ? health.runHealthCheck("memcached").getMessage()
          : null;
    };
  }

  @Test
  void aFewOutagesAndRestartsEachRecoverWithinTheBound() {
    cycles(new FaultCycles.Plan(3, Duration.ofSeconds(1), Duration.ofSeconds(4), BOUND, Duration.ofSeconds(1), System.nanoTime()));
  }

  /**
   * The long run, on demand: {@code scripts/test.sh -o -q -pl service-layer -am -Dtest=MemcachedOutagesTest
   * -Dsurefire.failIfNoSpecifiedTests=false -Dskiff.faults.long=true}.
   */
  @Test
  @EnabledIfSystemProperty(named = "skiff.faults.long", matches = "true")
  void longRepeatedOutages() {
    cycles(new FaultCycles.Plan(21, Duration.ofSeconds(1), Duration.ofSeconds(75), BOUND, Duration.ofSeconds(1), System.nanoTime()));
  }

  private void cycles(FaultCycles.Plan plan) {
    try (MemcachedProcess server = new MemcachedProcess(); Memcached m = builder(server.address()).build().start()) {
      FaultCycles.run("memcached", server, plan, () -> m.get("while-down"), whatFails(m));
    }
  }

  @Test
  void startedWhileMemcachedIsDownItIsUnhealthyFailsFastAndServesOnceItAppears() {
    try (MemcachedProcess server = new MemcachedProcess(TestStores.freePort(), false);
        Memcached m = builder(server.address()).build().start()) {
      assertThat(health.runHealthCheck("memcached").isHealthy()).isFalse();
      assertThat(health.runHealthCheck("memcached").getMessage()).contains("down").contains(server.address());
      assertThatThrownBy(() -> m.get("k"))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
          .hasMessageContaining("memcached");
      server.start();
      await("working once memcached answers").atMost(BOUND).ignoreExceptions().until(() -> whatFails(m).call() == null);
    }
  }

  @Test
  void requiredAtStartItFailsWithOneLineAfterTheWait() {
    int nothingThere = TestStores.freePort();
    Memcached m = builder("127.0.0.1:" + nothingThere).requiredAtStart(Duration.ofMillis(700)).build();
    assertThatThrownBy(m::start)
        .isInstanceOf(StoreUnavailableAtStart.class)
        .hasMessage("memcached at [127.0.0.1:" + nothingThere + "] (memcached.hosts) did not answer within 700 ms at start,"
            + " and this service requires it at start");
    assertThat(health.getNames()).as("a failed start leaves no health check").isEmpty();
    m.close();
  }

  /**
   * Connections left half-open (nothing gets through, nobody is told) are not waited on for ever: calls
   * end at their timeout, and once the server can be reached again the client works within the bound,
   * through new connections.
   */
  @Test
  void aHalfOpenConnectionIsReplacedOnceTheServerAnswersAgain() throws Exception {
    try (MemcachedProcess server = new MemcachedProcess();
        HalfOpenProxy proxy = new HalfOpenProxy(server.port);
        Memcached m = builder(proxy.address()).build().start()) {
      await().atMost(BOUND).ignoreExceptions().until(() -> whatFails(m).call() == null);
      proxy.cut();
      for (int i = 0; i < 5; i++) {
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> m.get("k")).isInstanceOf(SkiffException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("bounded by the 500 ms timeout").isLessThan(Duration.ofSeconds(2));
      }
      proxy.mend();
      long back = System.nanoTime();
      await("working again through new connections").atMost(BOUND).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
          .until(() -> {
            m.get("k"); // the caller keeps calling: the dead connection never looks idle
            return whatFails(m).call() == null;
          });
      System.out.printf("memcached half-open: working again %d ms after the server could be reached, %d rebuilds%n",
          Duration.ofNanos(System.nanoTime() - back).toMillis(), metrics.counter("memcached.rebuilds").getCount());
    }
  }
}
