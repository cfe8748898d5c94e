package dev.skiff.kernel.routing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.Bound;
import dev.skiff.kernel.TestClock;
import dev.skiff.kernel.discovery.Registry;
import dev.skiff.proto.v1.InstanceAnnouncement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * When the registry forgets an instance (docs/routing.md, Discovery), on a clock the test moves: after
 * the expiry the instance declared (3 heartbeats), or 6 s when it declared none, and not a millisecond
 * before; at once on a clean stop. RoutingTest shows the same with a real instance killed with SIGKILL.
 */
class RegistryExpiryTest {
  final TestClock clock = new TestClock(Instant.ofEpochMilli(1_700_000_000_000L));
  final Registry registry = new Registry(clock);
  final List<String> changes = new CopyOnWriteArrayList<>();

  RegistryExpiryTest() {
    registry.onChange(changes::add);
  }

  @AfterEach
  void close() {
    registry.close();
  }

  static InstanceAnnouncement running(String service, String instance, long expireAfterMs) {
    return InstanceAnnouncement.newBuilder().setService(service).setVersion("1.0.0").setInstance(instance)
        .setState(InstanceAnnouncement.State.RUNNING).setHeartbeatMs(expireAfterMs / 3).setExpireAfterMs(expireAfterMs).build();
  }

  /**
   * Moves the clock by {@code d} and expires: service s still has its one instance; then 1 ms more, and
   * expires again: it has none.
   */
  void assertForgottenJustAfter(Duration d) {
    clock.advance(d);
    registry.expire();
    assertThat(registry.list("s")).hasSize(1);
    clock.advance(Duration.ofMillis(1));
    registry.expire();
    assertThat(registry.list("s")).isEmpty();
  }

  @Test
  void anInstanceIsForgottenOnceItsDeclaredExpiryHasPassedSinceItWasLastHeard() {
    registry.apply(running("s", "a", 6000));
    assertThat(changes).containsExactly("s");
    clock.advance(Duration.ofMillis(4000));
    registry.apply(running("s", "a", 6000)); // a heartbeat: seen again, no change
    assertThat(changes).containsExactly("s");
    assertForgottenJustAfter(Duration.ofMillis(6000)); // 6 s after the heartbeat
    assertThat(changes).containsExactly("s", "s");
  }

  @Test
  void eachInstanceExpiresByItsOwnHeartbeat() {
    registry.apply(running("s", "slow", 30_000));
    registry.apply(running("s", "fast", 1_500));
    clock.advance(Duration.ofMillis(1_501));
    registry.expire();
    assertThat(registry.list("s")).extracting(i -> i.getAnnouncement().getInstance()).containsExactly("slow");
    assertForgottenJustAfter(Duration.ofMillis(28_499)); // 30 s after the announcement
  }

  @Test
  void anInstanceThatDeclaredNoExpiryIsForgottenAfterTheDefault() {
    registry.apply(running("s", "a", 0));
    assertForgottenJustAfter(Registry.DEFAULT_EXPIRY);
  }

  @Test
  void atItsBoundTheRegistryRefusesNewInstancesKeepsTheKnownOnesAndTakesNewOnesOnceSomeExpire() {
    try (Registry small = new Registry(clock, new Bound("test-registry", new Bound.Limits(2, 1 << 20), false))) {
      small.apply(running("s", "a", 6000));
      small.apply(running("s", "b", 6000));
      small.apply(running("s", "c", 6000));
      assertThat(small.list("s")).extracting(i -> i.getAnnouncement().getInstance()).containsExactly("a", "b");
      assertThat(small.bound().hits()).isEqualTo(1);
      assertThat(Bound.healthCheck(List.of(small.bound())).execute().healthy()).isFalse();
      clock.advance(Duration.ofMillis(4000));
      small.apply(running("s", "a", 6000)); // a known instance is still heard at the bound
      clock.advance(Duration.ofMillis(2001));
      small.expire(); // b expires
      small.apply(running("s", "c", 6000));
      assertThat(small.list("s")).extracting(i -> i.getAnnouncement().getInstance()).containsExactly("a", "c");
      assertThat(small.bound().count()).isEqualTo(2);
      assertThat(small.bound().bytes()).isEqualTo(small.list("s").stream().mapToLong(i -> i.getSerializedSize()).sum());
    }
  }

  @Test
  void aCleanStopLeavesAtOnce() {
    registry.apply(running("s", "a", 6000));
    registry.apply(running("s", "b", 6000));
    registry.apply(running("s", "a", 6000).toBuilder().setState(InstanceAnnouncement.State.STOPPING).build());
    assertThat(registry.list("s")).extracting(i -> i.getAnnouncement().getInstance()).containsExactly("b");
    assertThat(changes).containsExactly("s", "s", "s");
  }
}
