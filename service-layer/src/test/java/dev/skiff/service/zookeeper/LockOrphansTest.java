package dev.skiff.service.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.service.TestStores;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Orphan lock nodes (docs/operations.md, "ZooKeeper"): a node of a lock owned by a client's session that
 * no acquire or lease of that client holds, as an acquire whose answer a disconnection cut leaves
 * behind, blocks every process; the client deletes it after its next acquire times out, and never
 * deletes a node behind a live lease. Against the shared ZooKeeper server.
 */
class LockOrphansTest {
  private final String namespace = TestStores.ZOOKEEPER_TEST_ROOT + "/" + UUID.randomUUID();
  private final MetricRegistry metrics = new MetricRegistry();

  @AfterEach
  void deleteNamespace() {
    TestStores.deleteZooKeeperNamespace(namespace);
  }

  private ZooKeeperClient client(String name) {
    return TestStores.zookeeperClient(name, namespace, metrics, new HealthCheckRegistry());
  }

  /** A lease node as Curator's semaphore makes it (protected, ephemeral, sequential), owned by {@code z}'s session. */
  private static String orphanLease(ZooKeeperClient z, String lock) throws Exception {
    return z.curator().create().creatingParentContainersIfNeeded().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
        .forPath("/locks/" + lock + "/leases/_c_" + UUID.randomUUID() + "-lease-");
  }

  private static List<String> leases(ZooKeeperClient z, String lock) throws Exception {
    return z.curator().getChildren().forPath("/locks/" + lock + "/leases");
  }

  @Test
  void anOrphanNodeOfTheSessionIsDeletedAfterAnAcquireTimesOutAndTheLockIsTakenAgain() throws Exception {
    try (ZooKeeperClient a = client("a"); ZooKeeperClient b = client("b")) {
      String orphan = orphanLease(a, "job");
      Stat stat = a.curator().checkExists().forPath(orphan);
      assertThat(stat.getEphemeralOwner()).as("owned by A's session").isEqualTo(a.curator().getZookeeperClient().getZooKeeper().getSessionId());

      assertThat(b.lock("job").tryAcquire(Duration.ofMillis(300))).as("nobody holds the lock, but the orphan blocks it").isEmpty();
      assertThat(leases(a, "job")).as("B does not touch another session's node").hasSize(1);
      assertThat(metrics.counter("b.lock.orphans").getCount()).isZero();

      assertThat(a.lock("job").tryAcquire(Duration.ofMillis(300))).as("A waits behind its own orphan too").isEmpty();
      assertThat(a.curator().checkExists().forPath(orphan)).as("A's timed-out acquire swept its orphan").isNull();
      assertThat(metrics.counter("a.lock.orphans").getCount()).isEqualTo(1);

      try (DistributedLock.Lease lease = b.lock("job").acquire(Duration.ofSeconds(5))) {
        assertThat(lease.isValid()).as("the lock is taken again").isTrue();
      }
    }
  }

  @Test
  void aSweepNeverDeletesTheNodeOfALiveLeaseOrAcquire() throws Exception {
    try (ZooKeeperClient a = client("a"); ZooKeeperClient b = client("b")) {
      DistributedLock.Lease lease = a.lock("job").acquire(Duration.ofSeconds(5));
      // a second lock object on the same client and name: its timed-out acquire makes a sweep due
      assertThat(a.lock("job").tryAcquire(Duration.ofMillis(300))).isEmpty();
      assertThat(leases(a, "job")).as("the held lease's node stays").hasSize(1);
      assertThat(lease.isValid()).isTrue();
      assertThat(b.lock("job").tryAcquire(Duration.ofMillis(300))).as("still held by A").isEmpty();
      assertThat(metrics.counter("a.lock.orphans").getCount()).isZero();
      lease.close();
      assertThat(leases(a, "job")).isEmpty();
      try (DistributedLock.Lease next = b.lock("job").acquire(Duration.ofSeconds(5))) {
        assertThat(next.isValid()).isTrue();
      }
      assertThat(metrics.counter("a.lock.orphans").getCount()).as("a released lease is no orphan").isZero();
    }
  }
}
