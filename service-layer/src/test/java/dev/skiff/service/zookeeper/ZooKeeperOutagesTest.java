package dev.skiff.service.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.service.FaultCycles;
import dev.skiff.service.config.ZooKeeperConfigSource;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * ZooKeeper going away and coming back, again and again, against a private server process: calls fail
 * fast with UNAVAILABLE while it is gone, and after each return (outages shorter and longer than the
 * session timeout, so sessions also expire) two clients are fully working again within the bound: a
 * lock is taken, a watched value and a ZooKeeper config source see a change made by the other client,
 * and exactly one of them leads the election, both agreeing which.
 */
class ZooKeeperOutagesTest {
  /** ZooKeeperClient's documented recovery bound (10 s, from ZooKeeper answering to fully working), with a 5 s margin. */
  private static final Duration BOUND = Duration.ofSeconds(15);

  @Test
  void aFewOutagesAndRestartsEachRecoverWithinTheBound() {
    cycles(new FaultCycles.Plan(3, Duration.ofSeconds(1), Duration.ofSeconds(4), BOUND, Duration.ofSeconds(2), System.nanoTime()), "2s");
  }

  /**
   * The long run, on demand: {@code scripts/test.sh -o -q -pl service-layer -am -Dtest=ZooKeeperOutagesTest
   * -Dsurefire.failIfNoSpecifiedTests=false -Dskiff.faults.long=true}.
   */
  @Test
  @EnabledIfSystemProperty(named = "skiff.faults.long", matches = "true")
  void longRepeatedOutages() {
    cycles(new FaultCycles.Plan(21, Duration.ofSeconds(1), Duration.ofSeconds(75), BOUND, Duration.ofSeconds(2), System.nanoTime()), "4s");
  }

  private static void cycles(FaultCycles.Plan plan, String sessionTimeout) {
    MetricRegistry metrics = new MetricRegistry();
    HealthCheckRegistry health = new HealthCheckRegistry();
    try (ZooKeeperProcess zk = new ZooKeeperProcess();
        LayeredConfig settings = LayeredConfig.builder().environment(Map.of())
            .defaults(Map.of("zookeeper.hosts", zk.address(), "zookeeper.session-timeout", sessionTimeout,
                "zookeeper.connection-timeout", "1s"))
            .build();
        ZooKeeperClient a = ZooKeeperClient.builder().name("a").config(settings).metrics(metrics).healthChecks(health).build().start();
        ZooKeeperClient b = ZooKeeperClient.builder().name("b").config(settings).metrics(metrics).healthChecks(health).build().start()) {
      a.curator().create().creatingParentsIfNeeded().forPath("/config/app/cycle/token", "none".getBytes(StandardCharsets.UTF_8));
      WatchedValue seenByA = a.watch("/cycle");
      WatchedValue writtenByB = b.watch("/cycle");
      LeaderElection ea = a.leaderElection("job", "A", l -> {}).start();
      LeaderElection eb = b.leaderElection("job", "B", l -> {}).start();
      try (LayeredConfig fromZk = LayeredConfig.builder().environment(Map.of()).source(ZooKeeperConfigSource.of(a, "/config/app")).build()) {
        AtomicReference<String> written = new AtomicReference<>();
        Callable<String> whatFails = () -> {
          if (written.get() == null) {
            String token = UUID.randomUUID().toString();
            writtenByB.set(token);
            b.curator().setData().forPath("/config/app/cycle/token", token.getBytes(StandardCharsets.UTF_8));
            written.set(token);
          }
          String token = written.get();
          a.lock("cycle").acquire(Duration.ofSeconds(1)).close();
          String leader = ea.isLeader() ? "A" : "B";
          String fails = !seenByA.get().equals(Optional.of(token)) ? "A's watched value is " + seenByA.get()
              : !fromZk.current().getString("cycle.token", "").equals(token) ? "the config source has " + fromZk.current().getString("cycle.token", "")
              : ea.isLeader() == eb.isLeader() ? "A leads: " + ea.isLeader() + ", B leads: " + eb.isLeader()
              : !ea.leaderId().equals(Optional.of(leader)) || !eb.leaderId().equals(Optional.of(leader))
                  ? "leader " + leader + ", but A sees " + ea.leaderId() + " and B " + eb.leaderId()
              : !health.runHealthCheck("a").isHealthy() ? "a: " + health.runHealthCheck("a").getMessage()
              : !health.runHealthCheck("b").isHealthy() ? "b: " + health.runHealthCheck("b").getMessage()
              : null;
          if (fails == null) {
            written.set(null); // the next check proves a new change arrives
          }
          return fails;
        };
        FaultCycles.run("ZooKeeper", zk, plan, () -> a.lock("while-down").acquire(Duration.ofMillis(500)), whatFails);
        assertThat(metrics.counter("a.connection.lost").getCount()).as("sessions expired in the long outages").isPositive();
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
