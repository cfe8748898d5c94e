package dev.skiff.service.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.service.StoreUnavailableAtStart;
import dev.skiff.service.TestStores;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A client started while ZooKeeper is down, one that requires it at start, and one whose connection
 * stalls: against private ZooKeeper processes.
 */
class ZooKeeperStartTest {
  /** ZooKeeperClient's documented recovery bound (10 s, from ZooKeeper answering to fully working), with a 5 s margin. */
  private static final Duration BOUND = Duration.ofSeconds(15);

  private final MetricRegistry metrics = new MetricRegistry();
  private final HealthCheckRegistry health = new HealthCheckRegistry();

  private ZooKeeperClient.Builder builder(String hosts) {
    return ZooKeeperClient.builder().name("zk")
        .config(Config.of(Map.of("zookeeper.hosts", hosts, "zookeeper.connection-timeout", "1s", "zookeeper.session-timeout", "2s")))
        .metrics(metrics).healthChecks(health);
  }

  @Test
  void startedWhileZooKeeperIsDownItIsUnhealthyFailsFastAndServesOnceZooKeeperAppears() {
    try (ZooKeeperProcess zk = new ZooKeeperProcess(false); ZooKeeperClient c = builder(zk.address()).build().start()) {
      assertThat(c.isConnected()).isFalse();
      assertThat(health.runHealthCheck("zk").isHealthy()).isFalse();
      assertThat(health.runHealthCheck("zk").getMessage()).contains("ZooKeeper 'zk' at " + zk.address() + " is unreachable");
      assertThatThrownBy(() -> c.lock("job").acquire(Duration.ofSeconds(30)))
          .as("at once, not after the lock's 30 s")
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
          .hasMessageContaining("could not take lock 'job': ZooKeeper 'zk' at " + zk.address() + " is unreachable");
      WatchedValue value = c.watch("/banner");
      assertThatThrownBy(() -> value.set("x")).hasMessageContaining("is unreachable");
      LeaderElection election = c.leaderElection("job", "only", l -> {}).start();

      zk.start();
      await("working once ZooKeeper answers").atMost(BOUND).ignoreExceptions().until(() -> {
        value.set("hello");
        c.lock("job").acquire(Duration.ofSeconds(1)).close();
        return value.get().equals(Optional.of("hello")) && election.isLeader() && health.runHealthCheck("zk").isHealthy();
      });
    }
  }

  @Test
  void requiredAtStartItFailsWithOneLineAfterTheWait() {
    int nothingThere = TestStores.freePort();
    ZooKeeperClient c = builder("127.0.0.1:" + nothingThere).requiredAtStart(Duration.ofMillis(700)).build();
    assertThatThrownBy(c::start)
        .isInstanceOf(StoreUnavailableAtStart.class)
        .hasMessage("ZooKeeper at 127.0.0.1:" + nothingThere + " (zookeeper.hosts) did not answer within 700 ms at start,"
            + " and this service requires it at start");
    assertThat(health.getNames()).as("a failed start leaves no health check").isEmpty();
    c.close();
    ZooKeeperClient fromConfig = ZooKeeperClient.builder()
        .config(Config.of(Map.of("zookeeper.hosts", "127.0.0.1:" + nothingThere, "zookeeper.required-at-start", "300ms"))).build();
    assertThatThrownBy(fromConfig::start).isInstanceOf(StoreUnavailableAtStart.class).hasMessageContaining("within 300 ms");
  }

  /**
   * The client's ZooKeeper handle closed underneath it (as a library fault might leave it) never
   * reconnects by itself: the watchdog sees ZooKeeper answer while the client cannot, and rebuilds.
   */
  @Test
  void aConnectionThatStallsWhileZooKeeperAnswersIsRebuilt() throws Exception {
    try (ZooKeeperProcess zk = new ZooKeeperProcess(); ZooKeeperClient c = builder(zk.address()).build().start()) {
      WatchedValue value = c.watch("/banner");
      LeaderElection election = c.leaderElection("job", "only", l -> {}).start();
      await().atMost(BOUND).until(election::isLeader);

      c.curator().getZookeeperClient().getZooKeeper().close();

      await("unhealthy").atMost(BOUND).until(() -> !health.runHealthCheck("zk").isHealthy());
      await("rebuilt and working").atMost(BOUND.plus(ZooKeeperClient.STALL)).ignoreExceptions().until(() -> {
        value.set("again");
        return value.get().equals(Optional.of("again")) && election.isLeader() && health.runHealthCheck("zk").isHealthy();
      });
      assertThat(metrics.counter("zk.rebuilds").getCount()).isEqualTo(1);
      assertThat(health.runHealthCheck("zk").getMessage()).contains("rebuilt 1 times");
    }
  }
}
