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
import dev.skiff.platform.internal.Closer;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import dev.skiff.platform.transport.amqp.DeadLetters;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Hostile input against {@code skiff dead-letters replay} (exploratory test "ops", findings 1 and 2), on the
 * real broker: a dead letter forged by another broker user, or naming another service's queue, is listed
 * as suspect and never replayed (a replay used to deliver it wherever it said, as the replaying user); and
 * a replay into a queue nobody consumes is refused, taking nothing off, unless asked to replay even if the
 * service is stopped, when the copy waits with no expiry for the next instance.
 */
class DeadLetterReplayTest {
  private final String tag = Long.toHexString(System.nanoTime() & 0xfffffff);
  private final String service = "test.replay." + tag;
  private final String victim = "test.replay." + tag + ".victim";
  private final Closer open = new Closer();
  private final AtomicInteger runs = new AtomicInteger();
  private Connection raw;
  private String rawUser;
  private AmqpTransport operator;

  @BeforeEach
  void setUp() throws Exception {
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(PoisonMessageTest.brokerUri());
    raw = open.register(cf.newConnection("replay-test-raw"));
    rawUser = cf.getUsername();
    operator = open.register(AmqpTransport.connect(AmqpOptions.of(PoisonMessageTest.brokerUri()).withConnectionName("replay-operator")));
  }

  @AfterEach
  void tearDown() throws Exception {
    try (Channel ch = raw.createChannel()) {
      for (String q : List.of(AmqpNames.deadLetterQueue(service), AmqpNames.serviceQueue(service), AmqpNames.serviceQueue(victim))) {
        ch.queueDelete(q);
      }
    }
    open.close();
  }

  private Server start() {
    AmqpTransport t = open.register(AmqpTransport.connect(
        AmqpOptions.of(PoisonMessageTest.brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(2)).withConnectionName("replay-" + tag)));
    return open.register(Server.builder(service).transport(t).announce(false).outlierEjection(null).maxDeliveries(2)
        .endpoint(Endpoint.of("count", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          runs.incrementAndGet();
          return EchoResponse.newBuilder().setText(req.getText()).build();
        }).asIdempotent()) // the test peeks at a replayed copy and puts it back, marked redelivered
        .build().start());
  }

  /** A request as a client sends it, from {@code user}, whose deadline is a minute away. */
  private static AMQP.BasicProperties request(String user, String id, Map<String, Object> headers) {
    return new AMQP.BasicProperties.Builder()
        .userId(user)
        .messageId(id)
        .correlationId(id)
        .contentType("application/x-protobuf")
        .type("count")
        .headers(headers)
        .appId((System.currentTimeMillis() + 60_000) + ";0;hostile;0;")
        .build();
  }

  /** What an instance writes on a dead letter, with the queue it claims to come from. */
  private static Map<String, Object> deadHeaders(String from) {
    Map<String, Object> h = new HashMap<>();
    h.put("skiff-dead-code", "delivery-limit");
    h.put("skiff-dead-reason", "forged");
    h.put("skiff-dead-queue", from);
    h.put("skiff-dead-at", System.currentTimeMillis());
    h.put("skiff-dead-by", "nobody");
    h.put("skiff-deliveries", 5);
    return h;
  }

  private long messages(String queue) throws Exception {
    try (Channel ch = raw.createChannel()) {
      return ch.messageCount(queue);
    }
  }

  private static byte[] body(String text) {
    return EchoRequest.newBuilder().setText(text).build().toByteArray();
  }

  @Test
  void deadLettersForgedByAnotherUserOrNamingAnotherServicesQueueAreListedSuspectAndNeverReplayed() throws Exception {
    start();
    try (Channel ch = raw.createChannel()) {
      ch.queueDeclare(AmqpNames.serviceQueue(victim), false, false, false, null);
    }
    try (BrokerUsers.User mallory = BrokerUsers.create("test.replay." + tag + ".mallory", vhost());
        Connection m = mallory.connect("replay-mallory");
        Channel ch = m.createChannel()) {
      // another service's user writes into this service's dead-letter queue through the default exchange
      ch.basicPublish("", AmqpNames.deadLetterQueue(service), false,
          request(mallory.name(), "forged-to-victim", deadHeaders(AmqpNames.serviceQueue(victim))), body("to the victim"));
      ch.basicPublish("", AmqpNames.deadLetterQueue(service), false,
          request(mallory.name(), "forged-to-own", deadHeaders(AmqpNames.serviceQueue(service))), body("as if its own"));
    }
    try (Channel ch = raw.createChannel()) {
      // the service's own user (the one its instances set requests aside as) naming another service's queue
      ch.basicPublish("", AmqpNames.deadLetterQueue(service), false,
          request(rawUser, "own-to-victim", deadHeaders(AmqpNames.serviceQueue(victim))), body("to the victim again"));
    }
    DeadLetters dead = operator.deadLetters(service);
    await().atMost(Duration.ofSeconds(30)).until(() -> dead.count() == 3);

    List<DeadLetters.DeadLetter> listed = dead.list(10);
    assertThat(listed).extracting(DeadLetters.DeadLetter::requestId).containsExactly("forged-to-victim", "forged-to-own", "own-to-victim");
    assertThat(listed.get(0).suspect()).contains("sent by broker user test.replay." + tag + ".mallory").contains("not by one that sets");
    assertThat(listed.get(0).caller()).as("its claimed caller is not believed").isEqualTo("test.replay." + tag + ".mallory");
    assertThat(listed.get(1).suspect()).contains("sent by broker user test.replay." + tag + ".mallory");
    assertThat(listed.get(2).suspect()).isEqualTo("it names " + AmqpNames.serviceQueue(victim) + ", not a queue of " + service);

    DeadLetters.Replayed r = dead.replay(d -> true, Duration.ofSeconds(30));
    assertThat(r.replayed()).isZero();
    assertThat(r.suspect()).isEqualTo(3);
    assertThat(messages(AmqpNames.serviceQueue(victim))).as("nothing reached the other service's queue").isZero();
    assertThat(dead.count()).as("suspect ones are kept for a person to look at").isEqualTo(3);
    assertThat(runs.get()).as("nor did the service run the forgery").isZero();
  }

  private String vhost() throws Exception {
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(PoisonMessageTest.brokerUri());
    return cf.getVirtualHost();
  }

  @Test
  void aReplayIntoAQueueNobodyConsumesIsRefusedAndTakesNothingUnlessEvenIfStoppedThenItWaitsWithoutExpiry() throws Exception {
    Server server = start();
    try (Channel ch = raw.createChannel()) {
      Map<String, Object> counted = new HashMap<>();
      counted.put("skiff-deliveries", 2); // at the limit, as a fellow instance writes it
      ch.basicPublish("", AmqpNames.serviceQueue(service), false, request(rawUser, "again", counted), body("replay me"));
    }
    DeadLetters dead = operator.deadLetters(service);
    await().atMost(Duration.ofSeconds(60)).until(() -> messages(AmqpNames.deadLetterQueue(service)) == 1);
    server.close(); // its queue stays (x-expires), with no consumer
    await().atMost(Duration.ofSeconds(30)).until(() -> consumers(AmqpNames.serviceQueue(service)) == 0);

    assertThatThrownBy(() -> dead.replay(d -> true, Duration.ofSeconds(30)))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
          assertThat(e.description()).contains("nobody consumes the queue " + AmqpNames.serviceQueue(service))
              .contains("start the service, then replay").contains("--even-if-stopped")
              .contains("nothing was taken off").contains("0 requests replayed before this");
        });
    assertThat(dead.count()).isEqualTo(1);
    assertThat(messages(AmqpNames.serviceQueue(service))).isZero();

    // a deadline of 1 ms: were it kept, the copy would expire (or be refused as late) before anyone took it
    DeadLetters.Replayed r = dead.replay(d -> true, Duration.ofMillis(1), true);
    assertThat(r.replayed()).isEqualTo(1);
    assertThat(dead.count()).isZero();
    try (Channel ch = raw.createChannel()) {
      GetResponse copy = ch.basicGet(AmqpNames.serviceQueue(service), false);
      assertThat(copy).as("the copy waits in the stopped service's queue").isNotNull();
      assertThat(copy.getProps().getExpiration()).as("no expiry: nobody waits for it, it waits for an instance").isNull();
      assertThat(copy.getProps().getAppId()).as("no deadline: the instance gives it its default").startsWith("0;");
      ch.basicNack(copy.getEnvelope().getDeliveryTag(), false, true);
    }
    start();
    await().atMost(Duration.ofSeconds(30)).until(() -> runs.get() == 1);
  }

  private long consumers(String queue) throws IOException, java.util.concurrent.TimeoutException {
    try (Channel ch = raw.createChannel()) {
      return ch.consumerCount(queue);
    }
  }
}
