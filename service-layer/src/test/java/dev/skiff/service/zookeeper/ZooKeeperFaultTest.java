package dev.skiff.service.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.service.MutableSource;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.KillSession;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults that need a ZooKeeper of the test's own (Curator's in-process TestingServer, 100 ms ticks so
 * sessions can be short): session expiry, the server going away and coming back, a move to another
 * ensemble.
 */
class ZooKeeperFaultTest {
  @TempDir Path dir;

  private TestingServer server(String name) throws Exception {
    InstanceSpec spec = new InstanceSpec(dir.resolve(name).toFile(), -1, -1, -1, true, -1, 100, -1);
    return new TestingServer(spec, true);
  }

  private static ZooKeeperClient client(String name, LayeredConfig config, HealthCheckRegistry health, MetricRegistry metrics) {
    return ZooKeeperClient.builder().name(name).config(config).healthChecks(health).metrics(metrics).build().start();
  }

  private static LayeredConfig config(String hosts) {
    return LayeredConfig.builder()
        .environment(Map.of())
        .defaults(Map.of("zookeeper.hosts", hosts, "zookeeper.session-timeout", "1s", "zookeeper.connection-timeout", "5s"))
        .build();
  }

  @Test
  void afterSessionExpiryTheLockIsReleasedTakenByAnotherAndReacquiredLater() throws Exception {
    HealthCheckRegistry health = new HealthCheckRegistry();
    MetricRegistry metrics = new MetricRegistry();
    try (TestingServer zk = server("zk");
        LayeredConfig config = config(zk.getConnectString());
        ZooKeeperClient a = client("a", config, health, metrics);
        ZooKeeperClient b = client("b", config, health, metrics)) {
      DistributedLock.Lease aLease = a.lock("job").acquire(Duration.ofSeconds(5));
      LeaderElection aLeads = a.leaderElection("job", "A", l -> {}).start();
      assertThat(aLeads.awaitLeadership(Duration.ofSeconds(5))).isTrue();
      LeaderElection bLeads = b.leaderElection("job", "B", l -> {}).start();

      KillSession.kill(a.curator().getZookeeperClient().getZooKeeper());

      await("A knows its lease is gone").atMost(Duration.ofSeconds(5)).until(() -> !aLease.isValid());
      await("the loss is counted").atMost(Duration.ofSeconds(5))
          .until(() -> metrics.counter("a.connection.lost").getCount() == 1);
      DistributedLock.Lease bLease = b.lock("job").acquire(Duration.ofSeconds(10));
      assertThat(bLease.isValid()).as("the ensemble released A's lock with A's session").isTrue();
      assertThat(bLeads.awaitLeadership(Duration.ofSeconds(10))).as("B leads after A's session expired").isTrue();
      assertThat(aLeads.isLeader()).as("never two leaders").isFalse();

      aLease.close(); // releasing a lost lease must neither throw nor free B's lock
      assertThat(a.lock("job").tryAcquire(Duration.ofMillis(300))).as("B still holds it").isEmpty();
      await("A is connected again on a new session").atMost(Duration.ofSeconds(10))
          .until(() -> health.runHealthCheck("a").isHealthy());
      bLease.close();
      try (DistributedLock.Lease again = a.lock("job").acquire(Duration.ofSeconds(5))) {
        assertThat(again.isValid()).as("A takes the lock again once B let go").isTrue();
      }
    }
  }

  @Test
  void theHealthCheckIsUnhealthyWhileTheServerIsGoneAndHealthyWhenItIsBack() throws Exception {
    HealthCheckRegistry health = new HealthCheckRegistry();
    try (TestingServer zk = server("zk");
        LayeredConfig config =
            LayeredConfig.builder()
                .environment(Map.of())
                .defaults(Map.of("zookeeper.hosts", zk.getConnectString(), "zookeeper.session-timeout", "20s"))
                .build();
        ZooKeeperClient a = client("a", config, health, new MetricRegistry())) {
      assertThat(a.isConnected()).isTrue();
      assertThat(health.runHealthCheck("a").isHealthy()).isTrue();
      zk.stop();
      await("suspended shows as unhealthy").atMost(Duration.ofSeconds(10))
          .until(() -> !health.runHealthCheck("a").isHealthy());
      assertThat(health.runHealthCheck("a").getMessage()).contains("suspended");
      zk.restart();
      await("reconnected shows as healthy").atMost(Duration.ofSeconds(20))
          .until(() -> health.runHealthCheck("a").isHealthy());
    }
  }

  @Test
  void changingTheHostsInConfigMovesTheClientToTheOtherEnsembleWithoutARestart() throws Exception {
    try (TestingServer one = server("one");
        TestingServer two = server("two");
        MutableSource source = new MutableSource(Map.of("zookeeper.hosts", one.getConnectString()));
        LayeredConfig config = LayeredConfig.builder().environment(Map.of()).source(source).build();
        ZooKeeperClient c = client("c", config, new HealthCheckRegistry(), new MetricRegistry())) {
      c.watch("/where").set("one");
      source.set("zookeeper.hosts", two.getConnectString());
      assertThat(c.connectString()).isEqualTo(two.getConnectString());
      await("the client works on the new ensemble").atMost(Duration.ofSeconds(15)).ignoreExceptions()
          .until(() -> {
            c.curator().create().orSetData().creatingParentsIfNeeded().forPath("/probe");
            return c.curator().checkExists().forPath("/where") == null;
          });
      WatchedValue w = c.watch("/where");
      w.set("two");
      await().atMost(Duration.ofSeconds(5)).until(() -> w.get().equals(Optional.of("two")));
      source.set("zookeeper.hosts", "bad:host:name");
      assertThat(config.lastError().path()).as("a malformed change is refused naming the key").isEqualTo("zookeeper.hosts");
      assertThat(c.connectString()).isEqualTo(two.getConnectString());
    }
  }

  @Test
  void aLeaderWhoseClientMovesStopsLeadingAtOnceSoThatNeverTwoLead() throws Exception {
    try (TestingServer one = server("leaders");
        ServerSocket nothing = new ServerSocket(0);
        MutableSource aSource = new MutableSource(Map.of("zookeeper.hosts", one.getConnectString(), "zookeeper.session-timeout", "10s"));
        LayeredConfig aConfig = LayeredConfig.builder().environment(Map.of()).source(aSource).build();
        LayeredConfig bConfig = config(one.getConnectString());
        ZooKeeperClient a = client("a", aConfig, new HealthCheckRegistry(), new MetricRegistry());
        ZooKeeperClient b = client("b", bConfig, new HealthCheckRegistry(), new MetricRegistry())) {
      LeaderElection aLeads = a.leaderElection("moving", "A", l -> {}).start();
      assertThat(aLeads.awaitLeadership(Duration.ofSeconds(5))).isTrue();
      LeaderElection bLeads = b.leaderElection("moving", "B", l -> {}).start();
      // a listens on a port that never answers ZooKeeper: its latch hears nothing for a session timeout
      aSource.set("zookeeper.hosts", "127.0.0.1:" + nothing.getLocalPort());
      assertThat(aLeads.isLeader()).as("its session closed with the move: it no longer leads").isFalse();
      long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (System.nanoTime() < until) {
        assertThat(aLeads.isLeader() && bLeads.isLeader()).as("never two leaders").isFalse();
        if (bLeads.isLeader()) {
          break;
        }
        Thread.sleep(20);
      }
      assertThat(bLeads.awaitLeadership(Duration.ofSeconds(5))).as("B takes over").isTrue();
      assertThat(aLeads.isLeader()).isFalse();
    }
  }
}
