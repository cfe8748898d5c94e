package dev.skiff.kernel.routing;

import static dev.skiff.kernel.routing.RoutingFixture.HANG;
import static dev.skiff.kernel.routing.RoutingFixture.awaitFullPass;
import static dev.skiff.kernel.routing.RoutingFixture.awaitRegistry;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.kernel.discovery.Registry;
import dev.skiff.kernel.routing.RoutingFixture.KernelCopy;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.RouteStatus;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/** The binding service's leader: what a new one knows (the rules, from the stream) and when it acts. */
class RoutingLeaderTest {
  @AutoClose
  final RoutingFixture f = new RoutingFixture();

  @Test
  void rulesSurviveAKernelRestart() {
    KernelCopy before = f.leader();
    String s = f.name("restart");
    f.start(s, "1.0.0", "a");
    awaitRegistry(before.binding, s, Map.of("1.0.0", 1));
    // prepared for a version that does not run yet: nothing to apply now, so after the restart the rule
    // can only come from what the new copy reads in the rule stream
    RouteStatus set = f.setRoute(s, Map.of("1.0.0", 0, "2.0.0", 100), true);
    awaitFullPass(before.binding);
    assertThat(f.serviceTransport.routing().orElseThrow().splitExists(s)).isFalse();
    before.close();

    KernelCopy after = f.leader();
    RouteStatus read = f.route(s);
    assertThat(read.getRule()).isEqualTo(set.getRule());
    f.start(s, "2.0.0", "b");
    awaitRegistry(after.binding, s, Map.of("1.0.0", 1, "2.0.0", 1));
    f.assertAllReach(after, s, "2.0.0", 1000);
  }

  @Test
  void aNewLeaderDoesNotActBeforeItHasHeardEveryInstance() {
    // Instances announce themselves every second; a new binding copy that acted on its empty registry
    // would see a rule none of whose versions runs, delete the route exchange and leave the service
    // unroutable (NOT_FOUND) until it heard them. It listens for its warm-up first (5 s here: the default
    // is 3 s, docs/routing.md), so it first acts on a registry that has heard every instance.
    Duration heartbeat = Duration.ofSeconds(1);
    KernelCopy first = f.leader();
    String s = f.name("wait");
    f.start(TestServices.echo(f.serviceTransport, s, "1.0.0", "a", heartbeat, TestServices.Hook.NONE));
    f.start(TestServices.echo(f.serviceTransport, s, "2.0.0", "b", heartbeat, TestServices.Hook.NONE));
    awaitRegistry(first.binding, s, Map.of("1.0.0", 1, "2.0.0", 1));
    f.applyRoute(first, s, Map.of("1.0.0", 50, "2.0.0", 50));
    first.close();

    // calls flow all along the change of leader; split() fails on any failed call
    AtomicBoolean calling = new AtomicBoolean(true);
    AtomicLong made = new AtomicLong();
    CompletableFuture<Void> traffic = CompletableFuture.runAsync(() -> {
      while (calling.get()) {
        f.split(s, 100);
        made.addAndGet(100);
      }
    });
    // how many reconciliations the new copy had run when its registry first held both instances
    AtomicLong reconcilesWhenComplete = new AtomicLong(-1);
    try {
      KernelCopy next = f.kernel(Duration.ofSeconds(5));
      Registry registry = next.binding.registry();
      Runnable check = () -> {
        if (registry.versions(s).equals(Map.of("1.0.0", 1, "2.0.0", 1))) {
          reconcilesWhenComplete.compareAndSet(-1, next.binding.reconciles());
        }
      };
      registry.onChange(service -> check.run());
      check.run(); // in case it heard both before the listener was added
      await().atMost(HANG).until(next.binding::isLeader);
      await().atMost(HANG).until(() -> reconcilesWhenComplete.get() >= 0);
      awaitFullPass(next.binding);
    } finally {
      calling.set(false);
    }
    Throwable failed = traffic.handle((ok, e) -> e).join();
    System.out.printf("[routing] %d calls through the change of leader; failure: %s; reconciliations before every instance was heard: %d%n",
        made.get(), failed, reconcilesWhenComplete.get());
    assertThat(reconcilesWhenComplete.get()).as("reconciliations before the new leader had heard every instance").isZero();
    assertThat(failed).as("calls through the change of leader").isNull();
    assertThat(f.serviceTransport.routing().orElseThrow().splitExists(s)).isTrue();
    assertThat(f.split(s, 1000)).containsOnlyKeys("1.0.0", "2.0.0");
  }
}
