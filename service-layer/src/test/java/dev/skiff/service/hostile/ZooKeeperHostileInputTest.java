package dev.skiff.service.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.service.TestStores;
import dev.skiff.service.zookeeper.DistributedLock;
import dev.skiff.service.zookeeper.LeaderElection;
import dev.skiff.service.zookeeper.WatchedValue;
import dev.skiff.service.zookeeper.ZooKeeperClient;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What ZooKeeper would refuse, or punish, is refused by the client before anything is sent: a value or a
 * participant id over {@code jute.maxbuffer} (sent, the server drops the connection: the session, every
 * lock and every leadership of the client go with it), and paths and names with {@code .} or {@code ..}
 * parts (sent, Curator's background retries overflowed the stack and flooded the log).
 */
class ZooKeeperHostileInputTest {
  private final String namespace = TestStores.ZOOKEEPER_TEST_ROOT + "/" + UUID.randomUUID();
  private final MetricRegistry metrics = new MetricRegistry();
  private final HealthCheckRegistry health = new HealthCheckRegistry();

  @AfterEach
  void deleteNamespace() {
    TestStores.deleteZooKeeperNamespace(namespace);
  }

  @Test
  void aValueOrParticipantIdTooLargeForZooKeeperIsRefusedUpFrontAndTheSessionSurvives() {
    try (ZooKeeperClient zk = TestStores.zookeeperClient("hostile", namespace, metrics, health)) {
      DistributedLock.Lease lease = zk.lock("held").acquire(Duration.ofSeconds(5));
      LeaderElection election = zk.leaderElection("sweeper", "p1", leading -> {}).start();
      await().atMost(Duration.ofSeconds(10)).until(election::isLeader);
      WatchedValue banner = zk.watch("/banner");

      for (int size : new int[] {2_000_000, 1_048_000}) {
        assertThatThrownBy(() -> banner.set("y".repeat(size)))
            .as("%d bytes", size)
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("is " + size + " bytes")
            .hasMessageContaining("jute.maxbuffer")
            .hasMessageContaining("1048575");
      }
      assertThatThrownBy(() -> zk.leaderElection("other", "p".repeat(2_000_000), leading -> {}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("participant id of election 'other'")
          .hasMessageContaining("jute.maxbuffer");

      String fits = "y".repeat(500_000);
      banner.set(fits);
      await().atMost(Duration.ofSeconds(10)).until(() -> banner.get().equals(Optional.of(fits)));
      assertThat(lease.isValid()).as("the lock is still held: the session was never dropped").isTrue();
      assertThat(election.isLeader()).as("still the leader").isTrue();
      assertThat(metrics.counter("hostile.connection.suspended").getCount()).as("the connection never dropped").isZero();
      assertThat(health.runHealthCheck("hostile").isHealthy()).isTrue();
      lease.close();
    }
  }

  @Test
  void pathsAndNamesWithDotPartsAreRefusedByTheClientsOwnCheck() {
    try (ZooKeeperClient zk = TestStores.zookeeperClient("hostile", namespace, metrics, health)) {
      for (String path : List.of("/a/../b", "/a/./b", "/..", "/a/..", "/.", "/a\u0000b")) {
        assertThatThrownBy(() -> zk.watch(path))
            .as(path)
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("a ZooKeeper path");
      }
      for (String name : List.of(".", "..")) {
        assertThatThrownBy(() -> zk.lock(name)).as(name).isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("lock name");
        assertThatThrownBy(() -> zk.leaderElection(name, "p1", leading -> {}))
            .as(name).isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("election name");
      }
      assertThat(zk.lock("a..b").name()).as("dots inside a name are fine").isEqualTo("a..b");
      assertThat(zk.isConnected()).isTrue();
    }
  }
}
