package dev.skiff.kernel.routing;

import static dev.skiff.kernel.routing.RoutingFixture.awaitFullPass;
import static dev.skiff.kernel.routing.RoutingFixture.awaitRegistry;
import static dev.skiff.kernel.routing.RoutingFixture.HANG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.kernel.routing.RoutingFixture.KernelCopy;
import dev.skiff.platform.Broker;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.RouteRule;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.Test;

/**
 * Rules survive a restart of the broker (docs/routing.md, "Where the rules are stored"): on a RabbitMQ
 * node of this test's own ({@link Broker#privateNode()}), never the shared one.
 */
class RoutingBrokerRestartTest {
  @Test
  void rulesSurviveABrokerRestart() {
    Broker node = Broker.privateNode();
    String s;
    RouteRule stored;
    try (RoutingFixture before = new RoutingFixture(node.uri())) {
      before.keepRules();
      KernelCopy k = before.leader();
      s = before.name("brokerrestart");
      before.start(s, "1.0.0", "a");
      awaitRegistry(k.binding, s, Map.of("1.0.0", 1));
      // prepared for a version that does not run yet, so nothing is bound for it before the restart:
      // after it, the rule can only come from the rule stream
      stored = before.setRoute(s, Map.of("1.0.0", 0, "2.0.0", 100), true).getRule();
      awaitFullPass(k.binding);
      assertThat(before.serviceTransport.routing().orElseThrow().splitExists(s)).isFalse();
    }
    long t0 = System.nanoTime();
    node.stopNode();
    node.startNode();
    System.out.printf("[routing] private broker node restarted in %.1f s%n", (System.nanoTime() - t0) / 1e9);

    try (RoutingFixture after = new RoutingFixture(node.uri())) {
      after.clearOnClose(s);
      // The node accepts connections before its streams are back: a binding service started then fails
      // UNAVAILABLE ("cannot open the routing rule stream skiff.routes: ... home node of durable queue
      // 'skiff.routes' is down or inaccessible"), as a supervisor would, start it again until it runs
      long t1 = System.nanoTime();
      KernelCopy k = await().atMost(HANG).pollInterval(Duration.ofMillis(500))
          .ignoreExceptionsMatching(e -> e instanceof SkiffException x && x.code() == ErrorCode.UNAVAILABLE)
          .until(after::leader, Objects::nonNull);
      System.out.printf("[routing] a binding service started %.1f s after the node accepted connections%n", (System.nanoTime() - t1) / 1e9);
      assertThat(after.route(s).getRule()).isEqualTo(stored);
      after.start(s, "1.0.0", "a");
      after.start(s, "2.0.0", "b");
      awaitRegistry(k.binding, s, Map.of("1.0.0", 1, "2.0.0", 1));
      after.assertAllReach(k, s, "2.0.0", 1000);
    }
  }
}
