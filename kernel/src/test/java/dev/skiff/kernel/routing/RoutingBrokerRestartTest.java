package dev.skiff.kernel.routing;

import static dev.skiff.kernel.routing.RoutingFixture.awaitFullPass;
import static dev.skiff.kernel.routing.RoutingFixture.awaitRegistry;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.routing.RoutingFixture.KernelCopy;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.RouteRule;
import java.util.Map;
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
      assertThat(before.serviceTransport.exchangeExists(AmqpTransport.routeExchange(s))).isFalse();
    }
    long t0 = System.nanoTime();
    node.stopNode();
    node.startNode();
    System.out.printf("[routing] private broker node restarted in %.1f s%n", (System.nanoTime() - t0) / 1e9);

    try (RoutingFixture after = new RoutingFixture(node.uri())) {
      after.clearOnClose(s);
      KernelCopy k = after.leader();
      assertThat(after.route(s).getRule()).isEqualTo(stored);
      after.start(s, "1.0.0", "a");
      after.start(s, "2.0.0", "b");
      awaitRegistry(k.binding, s, Map.of("1.0.0", 1, "2.0.0", 1));
      awaitFullPass(k.binding);
      assertThat(after.split(s, 1000)).isEqualTo(Map.of("2.0.0", 1000));
    }
  }
}
