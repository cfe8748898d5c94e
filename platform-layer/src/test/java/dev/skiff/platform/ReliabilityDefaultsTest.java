package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.client.BreakerOptions;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The defaults docs/reliability.md gives, which the behaviour tests (RpcContract) shorten to run quickly:
 * the circuit breaker's 10-s window of at least 50 calls, threshold and 5-s wait, and a server's drain grace and prefetch.
 */
class ReliabilityDefaultsTest {

  @Test
  void theDefaultCircuitBreakerJudgesTheLastTenSecondsOnceTheyHoldFiftyCallsAndWaitsFiveSecondsBeforeThreeTrials() {
    BreakerOptions c = BreakerOptions.defaults();
    assertThat(c.window()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.minimumCalls()).isEqualTo(50);
    assertThat(c.failureRatePercent()).isEqualTo(50);
    assertThat(c.openFor()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.trialCalls()).isEqualTo(3);
  }

  @Test
  void aServerDrainsForTenSecondsAndPrefetchesTwiceItsConcurrencyByDefault() {
    try (InProcessTransport t = InProcessTransport.create()) {
      Server s = Server.builder("test.defaults").transport(t).announce(false).monitoring(MonitoringOptions.defaults())
          .endpoint("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> EchoResponse.getDefaultInstance())
          .build();
      try {
        assertThat(s.health().run("configuration").message())
            .isEqualTo("settings from code: concurrency 16, prefetch 32, max message 4194304 bytes, max in flight 67108864 bytes, max deliveries 5, drain grace 10000 ms, metrics on");
      } finally {
        s.close();
      }
    }
  }
}
