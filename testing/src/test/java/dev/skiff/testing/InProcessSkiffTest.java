package dev.skiff.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.server.SkiffService;
import dev.skiff.testing.testproto.Ping;
import dev.skiff.testing.testproto.Pong;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class InProcessSkiffTest {
  static final class PingService extends SkiffService {
    PingService() {
      super("test.ping", "1.0.0", "answers pings");
    }

    @Override
    protected void register(ServerBuilder service) {
      service.endpoint("ping", Ping.class, Pong.class, (req, ctx) -> {
        if (req.getText().isEmpty()) {
          throw new SkiffException(ErrorCode.BAD_REQUEST, "text is required");
        }
        return Pong.newBuilder().setText("pong " + req.getText()).build();
      });
    }
  }

  @Test
  void aServiceSubclassAnswersInMemory() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      Server s = skiff.start(new PingService());
      assertThat(s.version()).isEqualTo("1.0.0");
      Pong p = skiff.client().call("test.ping", "ping", Ping.newBuilder().setText("a").build(), Pong.class);
      assertThat(p.getText()).isEqualTo("pong a");
      assertThatThrownBy(() -> skiff.client().call("test.ping", "ping", Ping.getDefaultInstance(), Pong.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST));
    }
  }

  @Test
  void aBuiltServerAnswersInMemoryAndStopsOnClose() {
    InProcessSkiff skiff = InProcessSkiff.create();
    Server s = skiff.start("test.built", b -> b.endpoint("ping", Ping.class, Pong.class, (req, ctx) -> Pong.newBuilder().setText(ctx.service()).build()));
    assertThat(skiff.client().call("test.built", "ping", Ping.getDefaultInstance(), Pong.class).getText()).isEqualTo("test.built");
    skiff.close();
    assertThat(s.isClosed()).isTrue();
  }

  /**
   * Deadlines hold in memory as over a broker: a call with a 2 s timeout to a handler that is blocked
   * until the test releases it ends with TIMEOUT, without waiting for the handler. (How fast an
   * in-memory call is belongs to the benchmarks: LatencyBenchmark.inProcessSkiff.) The timeout is long
   * enough for the request to reach the handler on a loaded machine: a request whose deadline passed
   * before a handler was free is dropped unrun, and the handler would never have it (a CI run at load 9
   * saw that with 200 ms).
   */
  @Test
  void aCallsDeadlineHoldsInMemoryWithoutWaitingForTheHandler() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      skiff.start("test.blocked", b -> b.endpoint("ping", Ping.class, Pong.class, (req, ctx) -> {
        entered.countDown();
        try {
          release.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return Pong.newBuilder().setText("late").build();
      }));
      assertThatThrownBy(() -> skiff.client().call("test.blocked", "ping", Ping.getDefaultInstance(), Pong.class,
              CallOptions.timeout(Duration.ofSeconds(2))))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT));
      assertThat(entered.await(30, TimeUnit.SECONDS)).as("the handler had the request").isTrue();
      assertThat(release.getCount()).as("it was never released: the TIMEOUT did not wait for it").isEqualTo(1);
    } finally {
      release.countDown();
    }
  }
}
