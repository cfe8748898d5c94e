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

  /** Values ZooKeeper would refuse, or that overflow its int milliseconds, are refused naming key, value and source. */
  @Test
  void settingsZooKeeperWouldRefuseOrOverflowAreRefusedNamingKeyValueAndSource() {
    List<Map.Entry<String, String>> wrong = List.of(
        Map.entry("zookeeper.namespace", ".."),
        Map.entry("zookeeper.namespace", "a/../b"),
        Map.entry("zookeeper.namespace", "a/./b"),
        Map.entry("zookeeper.session-timeout", "600h"),
        Map.entry("zookeeper.connection-timeout", "600h"),
        Map.entry("zookeeper.required-at-start", "600h"),
        Map.entry("zookeeper.retry-base", "600h"),
        Map.entry("zookeeper.hosts", "127.0.0.1:2181:2182"));
    for (Map.Entry<String, String> e : wrong) {
      assertThatThrownBy(() -> ZooKeeperClient.builder().config(Config.of(Map.of(e.getKey(), e.getValue()))).build())
          .as(e.toString())
          .isInstanceOfSatisfying(ConfigException.class, x -> assertThat(x.path()).isEqualTo(e.getKey()))
          .hasMessageContaining(e.getKey() + " = '" + e.getValue() + "' (from map)");
    }
    assertThatThrownBy(() -> ZooKeeperClient.builder().config(Config.of(Map.of("zookeeper.session-timeout", "600h"))).build())
        .hasMessageContaining("at most 24h");
    assertThatThrownBy(() -> ZooKeeperClient.builder().requiredAtStart(Duration.ofHours(600)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0 to 24h");
    assertThat(ZooKeeperClient.builder().config(Config.of(Map.of("zookeeper.hosts", "[::1]:2182,::1"))).build())
        .as("IPv6 addresses are still taken").isNotNull();
  }

  @Test
  void aLockTimeoutThatIsNegativeOrOverADayIsRefused() {
    try (ZooKeeperClient a = client("a")) {
      DistributedLock lock = a.lock("t");
      for (Duration d : List.of(Duration.ofSeconds(-5), Duration.ofSeconds(Long.MAX_VALUE / 1000), Duration.ofHours(25))) {
        assertThatThrownBy(() -> lock.tryAcquire(d)).as(d.toString()).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("lock 't'").hasMessageContaining("0 to 24h");
      }
      assertThatThrownBy(() -> lock.acquire(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
    }
  }

  /**
   * "start() then close(), each at most once": a participant closed before it started, or made before its
   * client closed, cannot start; a watched value of a closed client is refused; and nothing of the client
   * keeps running.
   */
  @Test
  void recipesAreRefusedAfterTheirOrTheirClientsCloseAndLeaveNoThreads() {
    String name = "lifecycle-" + UUID.randomUUID().toString().substring(0, 8);
    List<String> latchThreadsBefore = threads("Curator-LeaderLatch");
    ZooKeeperClient zk = client(name);
    LeaderElection closedFirst = zk.leaderElection("sweeper", "p1", l -> {});
    closedFirst.close();
    assertThatThrownBy(closedFirst::start).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("leader election 'sweeper' is closed");
    assertThat(closedFirst.isLeader()).isFalse();

    LeaderElection leading = zk.leaderElection("sweeper", "p2", l -> {}).start();
    await().atMost(Duration.ofSeconds(10)).until(leading::isLeader);
    assertThatThrownBy(leading::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("already started");
    LeaderElection madeBefore = zk.leaderElection("other", "p3", l -> {});
    WatchedValue value = zk.watch("/v");
    value.set("x");
    await().atMost(Duration.ofSeconds(10)).until(() -> value.get().equals(Optional.of("x")));

    zk.close();
    assertThatThrownBy(madeBefore::start).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("ZooKeeper client '" + name + "' is closed");
    assertThatThrownBy(value::get).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("ZooKeeper client '" + name + "' is closed");
    assertThatThrownBy(() -> value.set("y")).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("ZooKeeper client '" + name + "' is closed");
    assertThat(leading.isLeader()).as("closed with its client").isFalse();
    await("the client's threads end").atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      assertThat(threads(name)).isEmpty();
      assertThat(threads("Curator-LeaderLatch")).hasSizeLessThanOrEqualTo(latchThreadsBefore.size());
    });
  }

  @Test
  void aWatchedValueClosedByItsOwnerIsRefused() {
    try (ZooKeeperClient a = client("a")) {
      WatchedValue v = a.watch("/closed");
      v.close();
      assertThatThrownBy(v::get).isInstanceOf(IllegalStateException.class).hasMessageContaining("watched value /closed is closed");
      assertThatThrownBy(() -> v.set("x")).isInstanceOf(IllegalStateException.class).hasMessageContaining("is closed");
    }
  }

  private static List<String> threads(String nameContains) {
    return Thread.getAllStackTraces().keySet().stream().filter(t -> t.isAlive() && t.getName().contains(nameContains))
        .map(Thread::getName).toList();
  }
}
