package dev.skiff.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.server.SkiffService;
import dev.skiff.testing.testproto.Ping;
import dev.skiff.testing.testproto.Pong;
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

  @Test
  void aCallTakesWellUnderAMillisecondOnceWarm() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      skiff.start(new PingService());
      Ping ping = Ping.newBuilder().setText("x").build();
      for (int i = 0; i < 2000; i++) {
        skiff.client().call("test.ping", "ping", ping, Pong.class);
      }
      // A unit test of a service stays fast: 1,000 calls in well under a second.
      long t0 = System.nanoTime();
      for (int i = 0; i < 1000; i++) {
        skiff.client().call("test.ping", "ping", ping, Pong.class);
      }
      assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(1000);
    }
  }
}
