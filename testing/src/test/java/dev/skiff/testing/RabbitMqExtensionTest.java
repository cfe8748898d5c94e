package dev.skiff.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.testkit.engine.EventConditions.abortedWithReason;
import static org.junit.platform.testkit.engine.EventConditions.container;
import static org.junit.platform.testkit.engine.EventConditions.event;
import static org.junit.platform.testkit.engine.TestExecutionResultConditions.message;

import dev.skiff.platform.client.Client;
import dev.skiff.platform.server.Server;
import dev.skiff.testing.testproto.Ping;
import dev.skiff.testing.testproto.Pong;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;

class RabbitMqExtensionTest {
  static final String LOCAL = System.getenv().getOrDefault("SKIFF_AMQP_URI", "amqp://guest:guest@localhost:5672");

  /** Runs only through the test kit below: the broker named by SKIFF_AMQP_URI. */
  static class WithBroker {
    @RegisterExtension
    static final RabbitMqExtension broker = new RabbitMqExtension(Map.of("SKIFF_AMQP_URI", LOCAL), () -> false);

    @Test
    void servesOverTheBroker() {
      try (Server s =
              Server.builder("test.fixture.ext")
                  .transport(broker.transport())
                  .endpoint("ping", Ping.class, Pong.class, (req, ctx) -> Pong.newBuilder().setText("pong").build())
                  .build()
                  .start();
          Client c = Client.builder().transport(broker.transport()).build()) {
        assertThat(c.call(s.name(), "ping", Ping.getDefaultInstance(), Pong.class).getText()).isEqualTo("pong");
      }
    }
  }

  /** Runs only through the test kit below: no broker named and no Docker engine. */
  static class NoBroker {
    @RegisterExtension static final RabbitMqExtension broker = new RabbitMqExtension(Map.of(), () -> false);

    @Test
    void neverRuns() {
      throw new AssertionError("must be skipped");
    }
  }

  private static EngineExecutionResults run(Class<?> testClass) {
    return EngineTestKit.engine("junit-jupiter").selectors(selectClass(testClass)).execute();
  }

  @Test
  void usesTheBrokerNamedBySkiffAmqpUri() {
    run(WithBroker.class).testEvents().assertStatistics(s -> s.succeeded(1).failed(0).aborted(0));
  }

  @Test
  void withNoBrokerAndNoDockerTheClassIsSkippedNotFailed() {
    EngineExecutionResults r = run(NoBroker.class);
    r.containerEvents()
        .assertThatEvents()
        .haveExactly(1, event(container(NoBroker.class), abortedWithReason(message(m -> m.contains("set SKIFF_AMQP_URI")))));
    r.testEvents().assertStatistics(s -> s.started(0).failed(0));
  }

  @Test
  void anUnreachableSkiffAmqpUriFailsNamingItWithoutThePassword() {
    RabbitMqExtension ext =
        new RabbitMqExtension(Map.of("SKIFF_AMQP_URI", "amqp://guest:sekrit@127.0.0.1:1"), () -> false);
    assertThatThrownBy(() -> ext.beforeAll(null))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("127.0.0.1:1")
        .hasMessageNotContaining("sekrit");
  }

  @Test
  void theDockerProbeAnswersWithoutThrowingWhereThereIsNoEngine() {
    // Where /var/run/docker.sock is absent (these machines), the probe says no rather than failing; where
    // there is one, it answers either way without throwing
    boolean socket = new java.io.File("/var/run/docker.sock").exists();
    boolean available = Containers.dockerAvailable();
    if (!socket && System.getenv("DOCKER_HOST") == null) {
      assertThat(available).as("no socket, no DOCKER_HOST: no engine").isFalse();
    }
  }
}
