package dev.skiff.platform.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.Error;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Property-based fuzzing of what a sender with broker credentials controls (issue 17, "Must show"): every
 * AMQP property of a request (correlation and message ids, endpoint, packed context, content type,
 * expiry, priority, headers Skiff reads and headers it does not, of every AMQP type) and its body (random
 * bytes, a valid request with junk after it, text), published by hand to a real service on the real
 * broker. Whatever comes, the service keeps answering a normal call, its queue drains (nothing is
 * redelivered forever: a message no one can handle is answered with an error or set aside), and every
 * reply it sends is a well-formed answer or a well-formed error.
 */
class RequestFuzzTest {
  private static final String SERVICE = "test.fuzz." + Long.toHexString(System.nanoTime() & 0xfffffff);
  private static final List<String> SKIFF_HEADERS =
      List.of("skiff", "traceparent", "skiff-token", "skiff-caller", "skiff-deliveries", "skiff-discarded-body", "x-death");

  private static AmqpTransport serving;
  private static AmqpTransport calling;
  private static Server server;
  private static Client client;
  private static Connection raw;
  private static Channel ch;
  private static String rawUser;
  private static String replyQueue;
  private static int calls;

  @BeforeContainer
  static void start() throws Exception {
    String uri = PoisonMessageTest.brokerUri();
    serving = AmqpTransport.connect(AmqpOptions.of(uri).withServiceQueueExpiry(Duration.ofMinutes(2)));
    server = Server.builder(SERVICE).transport(serving).announce(false).outlierEjection(null)
        .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class,
            (req, ctx) -> EchoResponse.newBuilder().setText(req.getText()).setBlobSize(req.getBlob().size()).build()))
        .build().start();
    calling = AmqpTransport.connect(uri);
    client = Client.builder().transport(calling).circuitBreaker(null).build();
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(uri);
    raw = cf.newConnection("fuzz-test-raw");
    rawUser = cf.getUsername();
    ch = raw.createChannel();
    replyQueue = ch.queueDeclare().getQueue();
  }

  @AfterContainer
  static void stop() throws Exception {
    if (ch != null && ch.isOpen()) {
      ch.queueDelete(AmqpNames.deadLetterQueue(SERVICE));
    }
    if (raw != null) {
      raw.close();
    }
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.close();
    }
    if (calling != null) {
      calling.close();
    }
    if (serving != null) {
      serving.close();
    }
  }

  @Property(tries = 150)
  void noRequestTakesTheServiceDownOrStaysInItsQueue(
      @ForAll("properties") AMQP.BasicProperties props, @ForAll("bodies") byte[] body) throws Exception {
    if (!ch.isOpen()) {
      ch = raw.createChannel(); // the broker refused the last publish (its own checks), not Skiff
    }
    ch.basicPublish("", AmqpNames.serviceQueue(SERVICE), false, props, body);

    String text = "alive-" + (++calls);
    EchoResponse r = client.call(SERVICE, "echo", EchoRequest.newBuilder().setText(text).build(), EchoResponse.class,
        CallOptions.timeout(Duration.ofSeconds(20)));
    assertThat(r.getText()).isEqualTo(text);
    await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20))
        .until(() -> ch.messageCount(AmqpNames.serviceQueue(SERVICE)) == 0);

    for (GetResponse got = ch.basicGet(replyQueue, true); got != null; got = ch.basicGet(replyQueue, true)) {
      String appId = got.getProps().getAppId();
      assertThat(appId).as("every reply says whether it is an answer or an error").isNotNull();
      boolean json = "application/json".equals(got.getProps().getContentType());
      if (appId.startsWith("error;")) {
        Error e = decode(Error.newBuilder(), got.getBody(), json);
        assertThat(e.getCode()).as("an error names its code").isNotEqualTo(dev.skiff.proto.v1.ErrorCode.ERROR_CODE_UNSPECIFIED);
        assertThat(e.getDescription()).as("and says what was wrong").isNotEmpty();
      } else {
        assertThat(appId).startsWith("ok;");
        decode(EchoResponse.newBuilder(), got.getBody(), json);
      }
    }
  }

  /** A reply's body in the content type it says it has: protobuf, or JSON when the request asked for it. */
  @SuppressWarnings("unchecked")
  private static <T extends Message> T decode(Message.Builder b, byte[] body, boolean json) throws Exception {
    if (json) {
      JsonFormat.parser().merge(new String(body, StandardCharsets.UTF_8), b);
    } else {
      b.mergeFrom(body);
    }
    return (T) b.build();
  }

  @Provide
  Arbitrary<AMQP.BasicProperties> properties() {
    Arbitrary<String> ids = Arbitraries.oneOf(Arbitraries.just(null), Arbitraries.strings().ofMaxLength(40),
        Arbitraries.strings().ascii().ofMaxLength(255), Arbitraries.strings().withCharRange('0', 'f').ofLength(32));
    Arbitrary<String> endpoints = Arbitraries.oneOf(Arbitraries.just("echo"), Arbitraries.just(null), Arbitraries.just(""),
        Arbitraries.strings().ascii().ofMaxLength(255), Arbitraries.strings().ofMaxLength(60));
    Arbitrary<String> contexts = Arbitraries.oneOf(Arbitraries.just(null), Arbitraries.strings().ascii().ofMaxLength(255),
        Combinators.combine(Arbitraries.longs(), Arbitraries.longs(), Arbitraries.strings().ascii().ofMaxLength(40),
                Arbitraries.strings().ascii().ofMaxLength(40), Arbitraries.strings().ascii().ofMaxLength(80))
            .as((deadline, sent, from, instance, trace) -> deadline + ";" + sent + ";" + from + ";" + instance + ";" + trace),
        Arbitraries.longs().between(-120_000, 120_000).map(d -> (System.currentTimeMillis() + d) + ";0;fuzz;0;"));
    Arbitrary<String> contentTypes = Arbitraries.oneOf(Arbitraries.of("application/x-protobuf", "application/json", "text/plain"),
        Arbitraries.just(null), Arbitraries.strings().ascii().ofMaxLength(100));
    Arbitrary<String> expirations = Arbitraries.oneOf(Arbitraries.just(null),
        Arbitraries.integers().between(0, 600_000).map(String::valueOf));
    Arbitrary<String> replyTos = Arbitraries.oneOf(Arbitraries.just(null), Arbitraries.just(""),
        Arbitraries.create(() -> replyQueue), Arbitraries.strings().ascii().ofMaxLength(100));
    Arbitrary<Map<String, Object>> headers = Arbitraries.maps(
            Arbitraries.oneOf(Arbitraries.of(SKIFF_HEADERS), Arbitraries.strings().ascii().ofMinLength(1).ofMaxLength(30)),
            headerValues())
        .ofMaxSize(6);
    return Combinators.combine(ids, endpoints, contexts, contentTypes, expirations, replyTos, headers, Arbitraries.integers().between(0, 9))
        .as((id, endpoint, context, contentType, expiration, replyTo, h, priority) -> new AMQP.BasicProperties.Builder()
            .userId(rawUser).correlationId(id).messageId(id).type(endpoint).appId(context).contentType(contentType)
            .expiration(expiration).replyTo(replyTo).headers(h.isEmpty() ? null : new HashMap<>(h)).priority(priority)
            .deliveryMode(priority % 2 + 1).build());
  }

  private static Arbitrary<Object> headerValues() {
    return Arbitraries.oneOf(
        Arbitraries.strings().ofMaxLength(300).map(s -> (Object) s),
        Arbitraries.longs().map(v -> (Object) v),
        Arbitraries.integers().map(v -> (Object) v),
        Arbitraries.of(true, false).map(v -> (Object) v),
        Arbitraries.bytes().array(byte[].class).ofMaxSize(64).map(v -> (Object) v),
        Arbitraries.strings().ascii().ofMaxLength(20).list().ofMaxSize(4).map(v -> (Object) v),
        Arbitraries.maps(Arbitraries.strings().ascii().ofMinLength(1).ofMaxLength(10), Arbitraries.longs().map(v -> (Object) v))
            .ofMaxSize(3).map(v -> (Object) v));
  }

  @Provide
  Arbitrary<byte[]> bodies() {
    Arbitrary<byte[]> valid = Arbitraries.strings().ofMaxLength(200)
        .map(t -> EchoRequest.newBuilder().setText(t).setBlob(ByteString.copyFrom(new byte[t.length() % 50])).build().toByteArray());
    return Arbitraries.oneOf(
        Arbitraries.bytes().array(byte[].class).ofMaxSize(4096),
        valid,
        Combinators.combine(valid, Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(64)).as((v, junk) -> {
          byte[] out = new byte[v.length + junk.length];
          System.arraycopy(v, 0, out, 0, v.length);
          System.arraycopy(junk, 0, out, v.length, junk.length);
          return out;
        }),
        Arbitraries.strings().ofMaxLength(500).map(s -> s.getBytes(StandardCharsets.UTF_8)),
        Arbitraries.just(new byte[0]));
  }
}
