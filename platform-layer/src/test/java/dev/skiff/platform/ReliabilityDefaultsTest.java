package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.client.Client;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The defaults docs/reliability.md gives, which the behaviour tests (RpcContract) shorten to run quickly:
 * the circuit breaker's window, threshold and 5-s wait, and a server's drain grace and prefetch.
 */
class ReliabilityDefaultsTest {

  @Test
  void theDefaultCircuitBreakerJudgesTheLastTwentyCallsAndWaitsFiveSecondsBeforeThreeTrials() {
    CircuitBreakerConfig c = Client.Builder.defaultCircuitBreaker();
    assertThat(c.getSlidingWindowType()).isEqualTo(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED);
    assertThat(c.getSlidingWindowSize()).isEqualTo(20);
    assertThat(c.getMinimumNumberOfCalls()).isEqualTo(10);
    assertThat(c.getFailureRateThreshold()).isEqualTo(50f);
    assertThat(c.getWaitIntervalFunctionInOpenState().apply(1)).isEqualTo(Duration.ofSeconds(5).toMillis());
    assertThat(c.getPermittedNumberOfCallsInHalfOpenState()).isEqualTo(3);
  }

  @Test
  void aServerDrainsForTenSecondsAndPrefetchesTwiceItsConcurrencyByDefault() {
    try (InProcessTransport t = InProcessTransport.create()) {
      Server s = Server.builder("test.defaults").transport(t).announce(false).monitoring(MonitoringOptions.defaults())
          .endpoint("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> EchoResponse.getDefaultInstance())
          .build();
      try {
        assertThat(s.health().run("configuration").message())
            .isEqualTo("settings from code: concurrency 16, prefetch 32, max message 4194304 bytes, drain grace 10000 ms, metrics on");
      } finally {
        s.close();
      }
    }
  }
}
