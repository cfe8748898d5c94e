package dev.skiff.platform.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.proto.v1.Error;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Hostile input, issue 17 item 1: a message no instance can handle must not take a service offline.
 * Against the real broker: a body over the client's inbound cap (which used to make amqp-client drop the
 * serving connection, get the same message again on recovery, and loop), many large bodies at once (each
 * used to be read whole before the size check), and a request that crashes every instance that takes it.
 * Each ends set aside in the service's dead-letter queue with its reason, counted, and the service serves
 * normal calls throughout.
 */
class PoisonMessageTest {
  private static final String ERROR_REPLY = "error;";

  private final String service = "test.poison." + Long.toHexString(System.nanoTime() & 0xfffffff);
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final CountDownLatch release = new CountDownLatch(1);
  private final AtomicInteger holding = new AtomicInteger();
  private final AtomicInteger crashes = new AtomicInteger();
  private AmqpTransport callerTransport;
  private Client client;
  private Connection raw;
  /** The raw connection's broker user, which the broker proves as the sender of what it publishes. */
  private String rawUser;

  static String brokerUri() {
    String env = System.getenv("SKIFF_AMQP_URI");
    return env == null || env.isBlank() ? AmqpOptions.DEFAULT_URI : env;
  }

  @BeforeEach
  void setUp() throws Exception {
    callerTransport = newTransport();
    client = Client.builder().transport(callerTransport).circuitBreaker(null).build();
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(brokerUri());
    raw = cf.newConnection("poison-test-raw");
    rawUser = cf.getUsername();
  }

  @AfterEach
  void tearDown() throws Exception {
    release.countDown();
    for (int i = toClose.size() - 1; i >= 0; i--) {
      try {
        toClose.get(i).close();
      } catch (RuntimeException e) {
        // a transport the test closed under its server
      }
    }
    client.close();
    callerTransport.close();
    try (Channel ch = raw.createChannel()) {
      ch.queueDelete(AmqpNames.deadLetterQueue(service));
    } catch (IOException e) {
      // not there
    }
    raw.close();
  }

  private AmqpTransport newTransport() {
    return newTransport(AmqpOptions.of(brokerUri()));
  }

  private AmqpTransport newTransport(AmqpOptions options) {
    AmqpTransport t = AmqpTransport.connect(options.withServiceQueueExpiry(Duration.ofMinutes(2)));
    toClose.add(t);
    return t;
  }

  private EchoResponse echo(EchoRequest req) {
    return EchoResponse.newBuilder().setText(req.getText()).setBlobSize(req.getBlob().size()).build();
  }

  /** Holds every request until the test releases them. */
  private EchoResponse held(EchoRequest req) {
    holding.incrementAndGet();
    try {
      release.await(120, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      holding.decrementAndGet();
    }
    return echo(req);
  }

  /** "poison" never returns while the instance lives: the test then kills the instance, as the poison would. */
  private EchoResponse crashOn(EchoRequest req) {
    if (req.getText().equals("poison")) {
      crashes.incrementAndGet();
      return held(req);
    }
    return echo(req);
  }

  private Server start(AmqpTransport transport, Consumer<ServerBuilder> customize) {
    ServerBuilder b =
        Server.builder(service)
            .transport(transport)
            .announce(false)
            .outlierEjection(null)
            .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> echo(req)))
            .endpoint(Endpoint.of("held", EchoRequest.class, EchoResponse.class, (req, ctx) -> held(req)))
            .endpoint(Endpoint.of("crash", EchoRequest.class, EchoResponse.class, (req, ctx) -> crashOn(req)).asIdempotent())
            .endpoint(Endpoint.of("mirror", EchoRequest.class, EchoRequest.class, (req, ctx) -> req));
    customize.accept(b);
    Server s = b.build().start();
    toClose.add(s);
    return s;
  }

  private void callSucceeds(String text) {
    EchoResponse r = client.call(service, "echo", EchoRequest.newBuilder().setText(text).build(), EchoResponse.class,
        CallOptions.timeout(Duration.ofSeconds(20)));
    assertThat(r.getText()).isEqualTo(text);
  }

  /** A request written by hand, as a hostile or broken sender would, as the raw connection's user. */
  private AMQP.BasicProperties request(String correlationId, String endpoint, String replyTo) {
    return new AMQP.BasicProperties.Builder()
        .userId(rawUser)
        .correlationId(correlationId)
        .messageId(correlationId)
        .replyTo(replyTo)
        .contentType("application/x-protobuf")
        .type(endpoint)
        .appId((System.currentTimeMillis() + 60_000) + ";0;hostile;0;")
        .build();
  }

  /** A reply queue as a Skiff client declares it, named for the raw connection's broker user (the only kind a service replies to). */
  private String replyQueue(Channel ch) throws IOException {
    String q = AmqpNames.replyQueue(rawUser, Long.toHexString(System.nanoTime()));
    ch.queueDeclare(q, false, true, true, null);
    return q;
  }

  /** @return how many messages wait in the service's dead-letter queue, or -1 while there is none */
  private long deadLetters() {
    try (Channel ch = raw.createChannel()) {
      return ch.messageCount(AmqpNames.deadLetterQueue(service));
    } catch (IOException | java.util.concurrent.TimeoutException | RuntimeException e) {
      return -1;
    }
  }

  /** Takes the replies that came to a queue, by correlation id. */
  private static Map<String, GetResponse> replies(Channel ch, String queue, Map<String, GetResponse> into) throws IOException {
    for (GetResponse got = ch.basicGet(queue, true); got != null; got = ch.basicGet(queue, true)) {
      into.put(got.getProps().getCorrelationId(), got);
    }
    return into;
  }

  private static Error error(GetResponse reply) throws IOException {
    assertThat(reply.getProps().getAppId()).startsWith(ERROR_REPLY);
    return Error.parseFrom(reply.getBody());
  }

  private static String header(GetResponse m, String name) {
    Object v = m.getProps().getHeaders() == null ? null : m.getProps().getHeaders().get(name);
    return v == null ? null : v.toString();
  }

  @Test
  void aBodyOverTheInboundCapIsSetAsideUnreadAndTheServiceKeepsServing() throws Exception {
    AmqpTransport serving = newTransport();
    Server server = start(serving, b -> {});
    // over amqp-client's 64 MiB inbound cap, under RabbitMQ's 128 MB message limit (issue 17)
    int size = (64 << 20) + (6 << 20);
    Channel ch = raw.createChannel();
    String replyQueue = replyQueue(ch);
    ch.basicPublish("", AmqpNames.serviceQueue(service), false, request("huge", "echo", replyQueue), new byte[size]);

    AtomicInteger served = new AtomicInteger();
    await("the oversized request set aside, while normal calls are served")
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> {
          callSucceeds("call " + served.incrementAndGet());
          return deadLetters() == 1;
        });
    for (int i = 0; i < 20; i++) {
      callSucceeds("after " + i);
    }

    assertThat(serving.stats().connectionLosses()).as("the serving connection was never dropped").isZero();
    assertThat(serving.stats().discardedBodies()).as("the body was thrown away as it arrived").isEqualTo(1);
    assertThat(serving.stats().discardedBytes()).isEqualTo(size);
    assertThat(server.metrics().counter("skiff.server.dead-lettered").getCount()).isEqualTo(1);
    assertThat(((Number) server.metrics().getGauges().get("skiff.server.in-flight-bytes.max").getValue()).longValue())
        .as("the body never reached the server's memory").isLessThan(1 << 20);

    GetResponse dead = ch.basicGet(AmqpNames.deadLetterQueue(service), false);
    assertThat(dead.getBody()).as("set aside without the body it never read").isEmpty();
    assertThat(dead.getProps().getCorrelationId()).isEqualTo("huge");
    assertThat(header(dead, "skiff-dead-code")).isEqualTo("too-large");
    assertThat(header(dead, "skiff-dead-reason")).contains(Integer.toString(size)).contains("4194304");
    assertThat(header(dead, "skiff-dead-body-bytes")).isEqualTo(Integer.toString(size));
    assertThat(header(dead, "skiff-dead-queue")).isEqualTo(AmqpNames.serviceQueue(service));

    Map<String, GetResponse> answers = new HashMap<>();
    await().atMost(Duration.ofSeconds(30)).until(() -> replies(ch, replyQueue, answers).containsKey("huge"));
    Error refusal = error(answers.get("huge"));
    assertThat(refusal.getCode()).isEqualTo(dev.skiff.proto.v1.ErrorCode.BAD_REQUEST);
    assertThat(refusal.getDescription()).contains("over the message size limit of 4194304 bytes");
  }

  @Test
  void manyLargeBodiesAtOnceStayWithinTheConfiguredInFlightBound() throws Exception {
    long bound = 8L << 20;
    AmqpTransport serving = newTransport();
    Server server = start(serving, b -> b.maxInFlightBytes(bound));
    Channel ch = raw.createChannel();
    String replyQueue = replyQueue(ch);
    byte[] fits = EchoRequest.newBuilder().setBlob(ByteString.copyFrom(new byte[3 << 20])).build().toByteArray();
    byte[] tooBig = new byte[20_000_000];
    for (int i = 0; i < 10; i++) {
      ch.basicPublish("", AmqpNames.serviceQueue(service), false, request("fits-" + i, "held", replyQueue), fits);
      ch.basicPublish("", AmqpNames.serviceQueue(service), false, request("big-" + i, "held", replyQueue), tooBig);
    }
    // 3 MiB each: two fit in 8 MiB and are held; the eight others are refused CAPACITY, the 20 MB ones BAD_REQUEST
    Map<String, GetResponse> answers = new HashMap<>();
    await().atMost(Duration.ofSeconds(120)).until(() -> replies(ch, replyQueue, answers).size() == 18);
    assertThat(holding.get()).isEqualTo(2);
    for (int i = 0; i < 10; i++) {
      Error e = error(answers.get("big-" + i));
      assertThat(e.getCode()).isEqualTo(dev.skiff.proto.v1.ErrorCode.BAD_REQUEST);
    }
    long capacity = answers.values().stream().filter(r -> {
      try {
        Error e = error(r);
        return e.getCode() == dev.skiff.proto.v1.ErrorCode.CAPACITY && e.getDescription().contains("in flight");
      } catch (IOException ex) {
        throw new IllegalStateException(ex);
      }
    }).count();
    assertThat(capacity).isEqualTo(8);
    long peak = ((Number) server.metrics().getGauges().get("skiff.server.in-flight-bytes.max").getValue()).longValue();
    System.out.printf("in-flight bodies: peak %d bytes (bound %d); discarded unread %s%n", peak, bound, serving.stats());
    assertThat(peak).as("the most request bytes the server held").isLessThanOrEqualTo(bound).isGreaterThanOrEqualTo(2L * fits.length);
    assertThat(serving.stats().discardedBodies()).as("the 20 MB bodies never read").isEqualTo(10);
    assertThat(server.metrics().counter("skiff.server.dead-lettered").getCount()).isEqualTo(10);

    release.countDown();
    await().atMost(Duration.ofSeconds(30)).until(() -> replies(ch, replyQueue, answers).size() == 20);
    assertThat(answers.get("fits-0").getProps().getAppId()).startsWith("ok;");
    await().atMost(Duration.ofSeconds(10))
        .until(() -> ((Number) server.metrics().getGauges().get("skiff.server.in-flight-bytes").getValue()).longValue() == 0);
    assertThat(serving.stats().connectionLosses()).isZero();
  }

  @Test
  void aRequestThatCrashesEveryInstanceIsSetAsideAfterTheDeliveryLimit() throws Exception {
    int limit = 3;
    CompletableFuture<EchoResponse> poisoned = null;
    for (int instance = 1; instance <= limit; instance++) {
      AmqpTransport dies = newTransport();
      start(dies, b -> b.maxDeliveries(limit));
      if (poisoned == null) {
        poisoned = client.callAsync(service, "crash", EchoRequest.newBuilder().setText("poison").build(), EchoResponse.class,
            CallOptions.timeout(Duration.ofMinutes(3)));
      }
      int expected = instance;
      await("instance " + instance + " took the poison").atMost(Duration.ofSeconds(60)).until(() -> crashes.get() == expected);
      dies.close(); // the instance dies with the request unsettled: the broker gives it to the next
    }
    AmqpTransport survivorTransport = newTransport();
    Server survivor = start(survivorTransport, b -> b.maxDeliveries(limit));
    CompletableFuture<EchoResponse> call = poisoned;
    assertThatThrownBy(() -> call.get(60, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL);
          assertThat(e.description()).contains("set aside").contains(limit + " times");
        });
    assertThat(crashes.get()).as("handed to a handler no more than the limit").isEqualTo(limit);
    assertThat(survivor.metrics().counter("skiff.server.dead-lettered").getCount()).isEqualTo(1);
    callSucceeds("the survivor serves");

    Channel ch = raw.createChannel();
    GetResponse dead = ch.basicGet(AmqpNames.deadLetterQueue(service), false);
    assertThat(dead).isNotNull();
    assertThat(header(dead, "skiff-dead-code")).isEqualTo("delivery-limit");
    assertThat(header(dead, "skiff-deliveries")).isEqualTo(Integer.toString(limit));
    assertThat(EchoRequest.parseFrom(dead.getBody()).getText()).as("kept whole, for replay").isEqualTo("poison");
    assertThat(dead.getProps().getExpiration()).as("it does not expire in the dead-letter queue").isNull();
    assertThat(crashes.get()).isEqualTo(limit);
  }

  @Test
  void requestsSetAsideAreListedReplayedAndDiscardedAndKeepTheServiceUnhealthyUntilThen() throws Exception {
    AtomicInteger echoed = new AtomicInteger();
    java.util.Set<String> callers = java.util.concurrent.ConcurrentHashMap.newKeySet();
    Server server = start(newTransport(), b -> b.maxDeliveries(2)
        .endpoint(Endpoint.of("count", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          echoed.incrementAndGet();
          callers.add(ctx.callerIdentity().orElse("?"));
          return echo(req);
        })));
    assertThat(server.health().run("dead-letters").healthy()).isTrue();
    Channel ch = raw.createChannel();
    // one over the size limit; one whose count of unsettled deliveries, written by a fellow instance
    // (the same broker user), has reached the limit
    ch.basicPublish("", AmqpNames.serviceQueue(service), false, request("big", "count", null), new byte[5 << 20]);
    Map<String, Object> counted = new HashMap<>();
    counted.put("skiff-deliveries", 2);
    ch.basicPublish("", AmqpNames.serviceQueue(service), false,
        request("again", "count", null).builder().headers(counted).build(),
        EchoRequest.newBuilder().setText("replay me").build().toByteArray());
    await().atMost(Duration.ofSeconds(60)).until(() -> deadLetters() == 2);
    assertThat(echoed.get()).isZero();
    dev.skiff.platform.health.HealthCheck.Result unhealthy = server.health().run("dead-letters");
    assertThat(unhealthy.healthy()).as(unhealthy.message()).isFalse();
    assertThat(unhealthy.message()).contains("2 request(s) set aside wait").contains("skiff dead-letters list " + service);

    dev.skiff.platform.transport.amqp.DeadLetters dead = callerTransport.deadLetters(service);
    List<dev.skiff.platform.transport.amqp.DeadLetters.DeadLetter> listed = dead.list(10);
    assertThat(listed).extracting(d -> d.requestId()).containsExactly("big", "again");
    assertThat(listed.get(0).code()).isEqualTo("too-large");
    assertThat(listed.get(0).bodyDiscarded()).isTrue();
    assertThat(listed.get(0).bodyBytes()).isEqualTo(5 << 20);
    assertThat(listed.get(1).code()).isEqualTo("delivery-limit");
    assertThat(listed.get(1).deliveries()).isEqualTo(2);
    assertThat(listed.get(1).endpoint()).isEqualTo("count");
    assertThat(listed.get(1).caller()).isEqualTo(rawUser);
    assertThat(listed.get(1).setAsideBy()).isEqualTo(server.instanceId());
    assertThat(dead.count()).as("listing removes nothing").isEqualTo(2);

    dev.skiff.platform.transport.amqp.DeadLetters.Replayed replayed = dead.replay(d -> true, Duration.ofSeconds(30));
    assertThat(replayed.replayed()).isEqualTo(1);
    assertThat(replayed.notReplayable()).as("its body was never read").isEqualTo(1);
    await().atMost(Duration.ofSeconds(30)).until(() -> echoed.get() == 1);
    assertThat(callers).as("replayed as the service's own user, it keeps its caller").containsExactly(rawUser);
    assertThat(dead.list(10)).extracting(d -> d.requestId()).containsExactly("big");

    assertThat(dead.discard(d -> d.code().equals("too-large"))).isEqualTo(1);
    assertThat(dead.count()).isZero();
    assertThat(server.health().run("dead-letters").healthy()).as(server.health().run("dead-letters").message()).isTrue();
    assertThat(echoed.get()).isEqualTo(1);
  }

  @Test
  void aReplyOverTheCallersInboundLimitFailsThatCallAndNotTheConnection() throws Exception {
    start(newTransport(), b -> b.maxMessageBytes(8 << 20));
    AmqpTransport small = newTransport(AmqpOptions.of(brokerUri()).withMaxInboundBytes(1 << 20));
    try (Client c = Client.builder().transport(small).maxMessageBytes(8 << 20).circuitBreaker(null).build()) {
      EchoRequest twoMiB = EchoRequest.newBuilder().setText("big").setBlob(ByteString.copyFrom(new byte[2 << 20])).build();
      // the echo of a 2 MiB blob is under 1 MiB (its size only), so ask for a reply as big as the request
      assertThatThrownBy(() -> c.call(service, "mirror", twoMiB, EchoRequest.class, CallOptions.timeout(Duration.ofSeconds(30))))
          .isInstanceOfSatisfying(SkiffException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL);
            assertThat(e.description()).contains("over this client's limit of 1048576 bytes").contains("thrown away unread");
          });
      assertThat(c.call(service, "echo", EchoRequest.newBuilder().setText("small").build(), EchoResponse.class).getText()).isEqualTo("small");
      assertThat(small.stats().connectionLosses()).isZero();
      assertThat(small.stats().discardedBodies()).isEqualTo(1);
    }
  }
}
