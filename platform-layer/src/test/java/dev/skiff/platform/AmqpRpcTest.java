package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import dev.skiff.platform.transport.amqp.AmqpNames;
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

  /** A plain amqp-client connection to the test broker, for requests written by hand. */
  private static Connection rawConnection() throws Exception {
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(brokerUri());
    return cf.newConnection();
  }

  /**
   * The raw connection's broker user: a hand-written client sets it as {@code user_id} to prove who it
   * is, which endpoints that declare no access require (docs/security.md).
   */
  private static String rawUser() throws Exception {
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(brokerUri());
    return cf.getUsername();
  }

  /**
   * A reply queue as a Skiff client declares it, named for the raw connection's broker user: a service
   * replies to no other (docs/security.md "Hostile input").
   */
  private static String replyQueue(Channel ch) throws Exception {
    String q = AmqpNames.replyQueue(rawUser(), dev.skiff.platform.internal.Ids.random128());
    ch.queueDeclare(q, false, true, true, null);
    return q;
  }

  /**
   * @param correlationId what the reply is to carry
   * @param replyQueue where it is to go ({@link #replyQueue})
   * @return the properties every raw request has: those, and the raw connection's broker user as proof of who sends it
   */
  private static AMQP.BasicProperties.Builder rawRequest(String correlationId, String replyQueue) throws Exception {
    return new AMQP.BasicProperties.Builder().correlationId(correlationId).replyTo(replyQueue).userId(rawUser());
  }

  /** Takes replies from a queue, by correlation id, until {@code n} have come (or fails after 30 s). */
  private static Map<String, GetResponse> awaitReplies(Channel ch, String queue, int n) {
    Map<String, GetResponse> replies = new java.util.HashMap<>();
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() -> {
      for (GetResponse got = ch.basicGet(queue, true); got != null; got = ch.basicGet(queue, true)) {
        replies.put(got.getProps().getCorrelationId(), got);
      }
      return replies.size() >= n;
    });
    return replies;
  }

  @Test
  void malformedProtobufOnTheWireIsAnsweredBadRequest() throws Exception {
    startEcho(b -> {});
    try (Connection c = rawConnection(); Channel ch = c.createChannel()) {
      String replyQueue = replyQueue(ch);
      AMQP.BasicProperties props = rawRequest("raw-1", replyQueue)
          .contentType("application/x-protobuf")
          .messageId("r1")
          .type("echo")
          .appId((System.currentTimeMillis() + 5000) + ";0;raw-test;0;")
          .build();
      ch.basicPublish(AmqpNames.RPC_EXCHANGE, echo, true, props, new byte[] {(byte) 0xff, 0x01, 0x02});
      GetResponse got = awaitReplies(ch, replyQueue, 1).get("raw-1");
      assertThat(got).as("a reply to the malformed request").isNotNull();
      assertThat(got.getProps().getCorrelationId()).isEqualTo("raw-1");
      assertThat(got.getProps().getAppId()).startsWith("error;");
      Error e = Error.parseFrom(got.getBody());
      assertThat(e.getCode()).isEqualTo(dev.skiff.proto.v1.ErrorCode.BAD_REQUEST);
      assertThat(e.getDescription()).contains("malformed protobuf").contains("skiff.test.EchoRequest");
    }
    assertThat(handlerRuns.get()).isZero();
    assertThat(client.call(echo, "echo", text("fine"), EchoResponse.class).getText()).isEqualTo("fine");
  }

  @Test
  void aRequestWithoutSkiffPropertiesIsAnsweredWithAClearErrorNotDropped() throws Exception {
    startEcho(b -> {});
    try (Connection c = rawConnection(); Channel ch = c.createChannel()) {
      String replyQueue = replyQueue(ch);
      // no type (endpoint), no message id, no context at all (only the user_id that proves whose reply
      // queue it names); then packed contexts that are garbage, in the app_id and in the header form
      AMQP.BasicProperties bare = rawRequest("bare", replyQueue).build();
      AMQP.BasicProperties garbage = rawRequest("garbage", replyQueue)
          .type("echo")
          .headers(Map.of("skiff", "not;a;number", "traceparent", "junk"))
          .build();
      AMQP.BasicProperties garbageAppId = rawRequest("garbage-app-id", replyQueue)
          .type("echo")
          .appId(";;;not;a;trace;context")
          .build();
      ch.basicPublish(AmqpNames.RPC_EXCHANGE, echo, true, bare, text("x").toByteArray());
      ch.basicPublish(AmqpNames.RPC_EXCHANGE, echo, true, garbage, text("y").toByteArray());
      ch.basicPublish(AmqpNames.RPC_EXCHANGE, echo, true, garbageAppId, text("z").toByteArray());
      Map<String, GetResponse> replies = awaitReplies(ch, replyQueue, 3);
      assertThat(replies).as("every request answered").containsOnlyKeys("bare", "garbage", "garbage-app-id");
      // no endpoint: NOT_FOUND naming the endpoints the service has
      assertThat(replies.get("bare").getProps().getAppId()).startsWith("error;");
      Error e = Error.parseFrom(replies.get("bare").getBody());
      assertThat(e.getCode()).isEqualTo(dev.skiff.proto.v1.ErrorCode.NOT_FOUND);
      assertThat(e.getDescription()).contains("has no endpoint ''").contains("echo");
      // unreadable deadline and trace context: the server's defaults apply and the call is served
      assertThat(replies.get("garbage").getProps().getAppId()).startsWith("ok;");
      assertThat(EchoResponse.parseFrom(replies.get("garbage").getBody()).getText()).isEqualTo("y");
      assertThat(replies.get("garbage-app-id").getProps().getAppId()).startsWith("ok;");
      assertThat(EchoResponse.parseFrom(replies.get("garbage-app-id").getBody()).getText()).isEqualTo("z");
    }
  }

  @Test
  void withoutPerMessageTtlCallsWorkAndTheServerStillEnforcesDeadlines() throws Exception {
    // one handler and a prefetch of one: a second request waits in the broker's queue, not the server's
    dev.skiff.platform.server.Server server = startEcho(b -> b.concurrency(1).prefetch(1));
    try (AmqpTransport noTtl = AmqpTransport.connect(AmqpOptions.of(brokerUri()).withMessageTtl(false));
        dev.skiff.platform.client.Client c = dev.skiff.platform.client.Client.builder().transport(noTtl).build()) {
      assertThat(c.call(echo, "echo", text("no ttl"), EchoResponse.class).getText()).isEqualTo("no ttl");
      int runsBefore = handlerRuns.get();
      // the only handler is held: a call with 100 ms left waits in the broker's queue past its deadline;
      // with no TTL the broker delivers it anyway once the handler is free, and the server drops it unrun
      java.util.concurrent.CompletableFuture<EchoResponse> busy =
          c.callAsync(echo, "echo", gated(), EchoResponse.class, dev.skiff.platform.client.CallOptions.timeout(Duration.ofSeconds(60)));
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> atGate.get() == 1);
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> c.call(echo, "echo", text("late"), EchoResponse.class,
                  dev.skiff.platform.client.CallOptions.timeout(Duration.ofMillis(100))))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT));
      gate.countDown();
      assertThat(busy.get(60, java.util.concurrent.TimeUnit.SECONDS).getText()).isEmpty();
      org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(
          () -> server.metrics().counter("skiff.server.dropped-expired").getCount() >= 1);
      assertThat(server.metrics().counter("skiff.server.dropped-expired").getCount()).isEqualTo(1);
      assertThat(handlerRuns.get()).as("the late request never ran").isEqualTo(runsBefore + 1);
    }
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

  /**
   * A broker that answers but refuses what it was given is not an outage: the code says which refusal it
   * is (a service then exits as configured wrong instead of waiting, the CLI says what to change), in the
   * broker's own words, not the AMQP client's frame dump.
   */
  @Test
  void aBrokerThatRefusesTheCredentialsOrTheVirtualHostSaysWhichInItsOwnWords() {
    java.net.URI u = java.net.URI.create(brokerUri());
    String base = u.getScheme() + "://" + u.getUserInfo().split(":")[0] + ":%s@" + u.getHost() + ":" + (u.getPort() < 0 ? 5672 : u.getPort());
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> AmqpTransport.connect(String.format(base, "not-its-pw-5") + u.getRawPath()))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHORIZED);
          assertThat(e.description()).contains("the broker refused the user name or password (ACCESS_REFUSED")
              .doesNotContain("not-its-pw-5");
        });
    String password = u.getUserInfo().split(":", 2)[1];
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> AmqpTransport.connect(String.format(base, password) + "/skiff-no-such-vhost-5"))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.FORBIDDEN);
          assertThat(e.description()).endsWith(": NOT_ALLOWED - vhost skiff-no-such-vhost-5 not found")
              .doesNotContain("protocol method");
        });
  }
}
