package dev.skiff.service.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.service.TestStores;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Locks, leader election, watched values and the health check against the shared ZooKeeper server. */
class ZooKeeperClientTest {
  private final String namespace = TestStores.ZOOKEEPER_TEST_ROOT + "/" + UUID.randomUUID();
  private final MetricRegistry metrics = new MetricRegistry();
  private final HealthCheckRegistry health = new HealthCheckRegistry();

  @AfterEach
  void deleteNamespace() {
    TestStores.deleteZooKeeperNamespace(namespace);
  }

  private ZooKeeperClient client(String name) {
    return TestStores.zookeeperClient(name, namespace, metrics, health);
  }

  @Test
  void aLockIsHeldByOneProcessAtATimeAndWaitsAreBounded() throws Exception {
    try (ZooKeeperClient a = client("a"); ZooKeeperClient b = client("b")) {
      DistributedLock.Lease lease = a.lock("report").acquire(Duration.ofSeconds(5));
      assertThat(lease.isValid()).isTrue();
      // A holds the lock throughout, so B's try can only end by giving up at its timeout: a wait that
      // ignored it would never return (the 60 s bound only stops such a test)
      assertThat(CompletableFuture.supplyAsync(() -> b.lock("report").tryAcquire(Duration.ofMillis(300))).get(60, TimeUnit.SECONDS))
          .as("held elsewhere: B gives up after its timeout").isEmpty();
      assertThat(lease.isValid()).as("A still holds it").isTrue();
      assertThatThrownBy(() -> b.lock("report").acquire(Duration.ofMillis(100)))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT))
          .hasMessageContaining("'report'");
      lease.close();
      assertThat(lease.isValid()).isFalse();
      lease.close();
      try (DistributedLock.Lease bLease = b.lock("report").acquire(Duration.ofSeconds(5))) {
        assertThat(bLease.isValid()).as("released locks can be taken").isTrue();
      }
      assertThat(metrics.timer("a.lock.acquire").getCount()).isEqualTo(1);
      assertThat(health.runHealthCheck("a").isHealthy()).isTrue();
      assertThat(health.runHealthCheck("a").getMessage()).contains("connected to");
    }
    assertThat(health.getNames()).as("closed clients remove their checks").isEmpty();
  }

  @Test
  void oneLeaderAtATimeAndAnotherTakesOverWhenItLeaves() {
    List<String> events = new CopyOnWriteArrayList<>();
    try (ZooKeeperClient a = client("a"); ZooKeeperClient b = client("b")) {
      LeaderElection ea = a.leaderElection("sweeper", "A", l -> events.add("A:" + l)).start();
      await().atMost(Duration.ofSeconds(5)).until(ea::isLeader);
      LeaderElection eb = b.leaderElection("sweeper", "B", l -> events.add("B:" + l)).start();
      assertThat(eb.awaitLeadership(Duration.ofMillis(300))).as("only one leader").isFalse();
      assertThat(eb.leaderId()).contains("A");
      ea.close();
      assertThat(eb.awaitLeadership(Duration.ofSeconds(5))).as("B takes over").isTrue();
      await().atMost(Duration.ofSeconds(5)).until(() -> events.contains("A:false"));
      assertThat(events).containsSubsequence("A:true", "B:true");
    }
  }

  @Test
  void aWatchedValueSeesChangesMadeByAnotherProcess() {
    try (ZooKeeperClient a = client("a"); ZooKeeperClient b = client("b")) {
      WatchedValue seenByB = b.watch("/settings/banner");
      List<Optional<String>> changes = new CopyOnWriteArrayList<>();
      seenByB.onChange(changes::add);
      assertThat(seenByB.get()).isEmpty();
      a.watch("/settings/banner").set("hello");
      await().atMost(Duration.ofSeconds(5)).until(() -> seenByB.get().equals(Optional.of("hello")));
      a.watch("/settings/banner").set("bye");
      await().atMost(Duration.ofSeconds(5)).until(() -> changes.contains(Optional.of("bye")));
    }
  }

  @Test
  void badSettingsAndNamesGiveClearErrors() {
    assertThatThrownBy(() -> ZooKeeperClient.builder().config(Config.of(Map.of("zookeeper.hosts", "h:port"))).build())
        .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo("zookeeper.hosts"));
    assertThatThrownBy(() -> ZooKeeperClient.builder().config(Config.of(Map.of("zookeeper.namespace", "/abs"))).build())
        .hasMessageContaining("zookeeper.namespace = '/abs'");
    try (ZooKeeperClient a = client("a")) {
      assertThatThrownBy(() -> a.lock("has/slash")).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> a.watch("relative")).hasMessageContaining("starts with '/'");
    }
  }
}
