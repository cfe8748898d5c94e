package dev.skiff.platform.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Hostile input, issue 17 item 7: one call with a huge timeout used to break its client for good (the
 * broker refused the message expiry, closed the publishing channel, and every later call failed
 * UNAVAILABLE, then CIRCUIT_OPEN). Against the real broker: such a call is refused BAD_REQUEST before it
 * is sent; and a publishing channel the broker does close is open again for the next call.
 */
class AbsurdDeadlineTest {
  private final String service = "test.deadline." + Long.toHexString(System.nanoTime() & 0xfffffff);
  private final AtomicInteger handled = new AtomicInteger();
  private AmqpTransport serving;
  private AmqpTransport calling;
  private Server server;

  @BeforeEach
  void setUp() {
    AmqpOptions options = AmqpOptions.of(PoisonMessageTest.brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(2));
    serving = AmqpTransport.connect(options);
    calling = AmqpTransport.connect(options);
    server = Server.builder(service).transport(serving).announce(false)
        .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          handled.incrementAndGet();
          return EchoResponse.newBuilder().setText(req.getText()).setRemainingMs(ctx.remaining().toMillis()).build();
        }))
        .build().start();
  }

  @AfterEach
  void tearDown() {
    server.close();
    serving.close();
    calling.close();
  }

  private static EchoRequest text(String t) {
    return EchoRequest.newBuilder().setText(t).build();
  }

  private static void refusedBadRequest(Client client, String service, Duration timeout) {
    assertThatThrownBy(() -> client.callAsync(service, "echo", text("x"), EchoResponse.class, CallOptions.timeout(timeout))
            .get(30, TimeUnit.SECONDS))
        .as("timeout %s", timeout)
        .cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
          assertThat(e.description()).contains("timeout").contains("at most 30 days");
        });
  }

  @Test
  void aCallWithAnAbsurdTimeoutIsRefusedBadRequestBeforeItIsSentAndLaterCallsWork() {
    try (Client client = Client.builder().transport(calling).build()) {
      refusedBadRequest(client, service, Duration.ofDays(1_000_000));
      refusedBadRequest(client, service, Duration.ofSeconds(Long.MAX_VALUE));
      refusedBadRequest(client, service, CallOptions.MAX_TIMEOUT.plusMillis(1));
      assertThat(handled.get()).as("none was sent").isZero();
      for (int i = 0; i < 20; i++) {
        assertThat(client.call(service, "echo", text("ok " + i), EchoResponse.class).getText()).isEqualTo("ok " + i);
      }
      // the longest timeout allowed is one the broker takes as a message expiry
      EchoResponse longest = client.call(service, "echo", text("longest"), EchoResponse.class, CallOptions.timeout(CallOptions.MAX_TIMEOUT));
      assertThat(longest.getRemainingMs()).isGreaterThan(CallOptions.MAX_TIMEOUT.minusMinutes(1).toMillis());
      assertThat(client.call(service, "echo", text("after"), EchoResponse.class).getText()).isEqualTo("after");
    }
  }

  @Test
  void aPublishingChannelClosedByTheBrokerIsOpenAgainForTheNextCall() {
    // a client allowed bodies over the broker's own limit (RabbitMQ's default 128 MiB): the broker closes
    // the publishing channel (PRECONDITION_FAILED), as it did for the huge expiry
    try (Client client = Client.builder().transport(calling).maxMessageBytes(256 << 20).build()) {
      assertThat(client.call(service, "echo", text("before"), EchoResponse.class).getText()).isEqualTo("before");
      EchoRequest overBrokerLimit = EchoRequest.newBuilder().setBlob(ByteString.copyFrom(new byte[(128 << 20) + 1])).build();
      assertThatThrownBy(() -> client.call(service, "echo", overBrokerLimit, EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60))))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
      for (int i = 0; i < 20; i++) {
        assertThat(client.call(service, "echo", text("again " + i), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(20))).getText())
            .isEqualTo("again " + i);
      }
      assertThat(calling.stats().connectionLosses()).as("the connection stayed; only the channel was closed").isZero();
    }
  }
}
