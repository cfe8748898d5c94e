package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.Error;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The RPC contract over a real RabbitMQ, plus what only the broker transport does. */
class AmqpRpcTest extends RpcContract {
  static String brokerUri() {
    String env = System.getenv("SKIFF_AMQP_URI");
    return env == null || env.isBlank() ? AmqpOptions.DEFAULT_URI : env;
  }

  @Override
  protected Transport newTransport() {
    return AmqpTransport.connect(AmqpOptions.of(brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(2)));
  }

  @Test
  void callerIdentityIsTheBrokerValidatedUser() {
    startEcho(b -> b.endpoint("whoami", EchoRequest.class, EchoResponse.class,
        (req, ctx) -> EchoResponse.newBuilder().setText(ctx.callerIdentity().orElse("?")).build()));
    assertThat(client.call(echo, "whoami", text(""), EchoResponse.class).getText()).isEqualTo("guest");
  }

  @Test
  void malformedProtobufOnTheWireIsAnsweredBadRequest() throws Exception {
    startEcho(b -> {});
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(brokerUri());
    try (Connection c = cf.newConnection(); Channel ch = c.createChannel()) {
      String replyQueue = ch.queueDeclare().getQueue();
      AMQP.BasicProperties props =
          new AMQP.BasicProperties.Builder()
              .correlationId("raw-1")
              .replyTo(replyQueue)
              .contentType("application/x-protobuf")
              .headers(Map.of("skiff-endpoint", "echo", "skiff-request-id", "r1",
                  "skiff-deadline", System.currentTimeMillis() + 5000))
              .build();
      ch.basicPublish(AmqpTransport.EXCHANGE, echo, true, props, new byte[] {(byte) 0xff, 0x01, 0x02});
      GetResponse got = null;
      for (int i = 0; i < 100 && got == null; i++) {
        got = ch.basicGet(replyQueue, true);
        if (got == null) {
          Thread.sleep(20);
        }
      }
      assertThat(got).as("a reply to the malformed request").isNotNull();
      assertThat(got.getProps().getCorrelationId()).isEqualTo("raw-1");
      assertThat(got.getProps().getHeaders().get("skiff-status").toString()).isEqualTo("error");
      Error e = Error.parseFrom(got.getBody());
      assertThat(e.getCode()).isEqualTo(dev.skiff.proto.v1.ErrorCode.BAD_REQUEST);
      assertThat(e.getDescription()).contains("malformed protobuf").contains("skiff.test.EchoRequest");
    }
    assertThat(handlerRuns.get()).isZero();
    assertThat(client.call(echo, "echo", text("fine"), EchoResponse.class).getText()).isEqualTo("fine");
  }

  @Test
  void directReplyToWorksToo() {
    startEcho(b -> {});
    try (AmqpTransport direct =
            AmqpTransport.connect(AmqpOptions.of(brokerUri()).withReplyMode(AmqpOptions.ReplyMode.DIRECT_REPLY_TO));
        dev.skiff.platform.client.Client c = dev.skiff.platform.client.Client.builder().transport(direct).build()) {
      for (int i = 0; i < 5; i++) {
        assertThat(c.call(echo, "echo", text("d" + i), EchoResponse.class).getText()).isEqualTo("d" + i);
      }
    }
  }

  @Test
  void unreachableBrokerIsUnavailableWithTheAddressAndNoPassword() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> AmqpTransport.connect("amqp://guest:sekrit@127.0.0.1:1"))
        .isInstanceOfSatisfying(
            SkiffException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
              assertThat(e.description()).contains("127.0.0.1:1").doesNotContain("sekrit");
            });
  }
}
