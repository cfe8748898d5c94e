package dev.skiff.platform.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Closer;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Hostile input, issue 17 items 3 and 4, against the real broker with two broker users: the test's own
 * ({@code guest} by default, the victim) and one this class creates for the attacker.
 *
 * <ul>
 *   <li>Item 3: the dedupe cache used to key on endpoint and request id only, so the attacker, sending
 *       the victim's request id (request ids show in traces), got the victim's answer. A kept answer now
 *       goes only to the same proven caller with the same request body; anything else is CONFLICT.
 *   <li>Item 4: a service used to publish its reply wherever {@code reply_to} pointed: another client's
 *       reply queue, a durable queue. It now replies only to a reply queue of the proven caller's broker
 *       user (or a direct reply-to address, which the broker routes to the channel that asked) and refuses
 *       the rest unanswered, counted.
 * </ul>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CallerBoundRepliesTest {
  private final String tag = HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
  private final String service = "test.replay." + tag;
  private final String mallory = "test.replay." + tag + ".mallory";
  private final MetricRegistry metrics = new MetricRegistry();
  private final AtomicInteger runs = new AtomicInteger();
  private final Closer open = new Closer();
  private String victimUser;
  private BrokerUsers.User malloryUser;
  private Connection victimRaw;
  private Connection malloryRaw;

  private static String brokerUri() {
    return PoisonMessageTest.brokerUri();
  }

  @BeforeAll
  void setUp() throws Exception {
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(brokerUri());
    victimUser = cf.getUsername();
    String vhost = cf.getVirtualHost();
    malloryUser = open.register(BrokerUsers.create(mallory, vhost));

    AmqpTransport serving = AmqpTransport.connect(AmqpOptions.of(brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(2)));
    open.register(serving);
    Server server = Server.builder(service).transport(serving).announce(false).metrics(metrics)
        .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          runs.incrementAndGet();
          return EchoResponse.newBuilder().setText(req.getText() + " for " + ctx.caller().brokerUser().orElse("nobody")).build();
        }).withAccess(Access.anyone()))
        .build().start();
    open.register(server);
    victimRaw = raw(brokerUri());
    malloryRaw = raw(malloryUri());
  }

  @AfterAll
  void tearDown() {
    open.close();
  }

  // ---- the management API (RabbitMQ's, as the test's broker user) ----

  private static String enc(String s) {
    return BrokerUsers.enc(s);
  }

  private static String manage(String method, String path, String json) throws Exception {
    return BrokerUsers.manage(method, path, json);
  }

  private String malloryUri() {
    return malloryUser.uri();
  }

  private Connection raw(String uri) throws Exception {
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(uri);
    cf.setAutomaticRecoveryEnabled(false);
    Connection c = cf.newConnection("replay-test-raw");
    open.register(c);
    return c;
  }

  private Client client(String uri, String name) {
    AmqpTransport t = AmqpTransport.connect(AmqpOptions.of(uri).withConnectionName("replay-test-" + name));
    open.register(t);
    Client c = Client.builder().transport(t).name(name).circuitBreaker(null).build();
    open.register(c);
    return c;
  }

  private static EchoRequest text(String t) {
    return EchoRequest.newBuilder().setText(t).build();
  }

  private long counted(String name) {
    return metrics.counter(name).getCount();
  }

  private static void conflict(Runnable call) {
    assertThatThrownBy(call::run).isInstanceOfSatisfying(SkiffException.class, e -> {
      assertThat(e.code()).isEqualTo(ErrorCode.CONFLICT);
      assertThat(e.description()).contains("request id").doesNotContain("secret");
    });
  }

  // ---- item 3: a kept answer goes to its own caller, for its own body, only ----

  @Test
  void anotherCallerReusingARequestIdGetsConflictNotTheAnswerAndTheOwnerRetryingGetsItsAnswer() {
    Client alice = client(brokerUri(), "test.replay.alice");
    Client attacker = client(malloryUri(), "test.replay.alice");
    CallOptions id = CallOptions.timeout(Duration.ofSeconds(20)).withRequestId("req-" + tag);
    long conflictsBefore = counted("skiff.server.dedupe-conflicts");
    int runsBefore = runs.get();

    String answer = alice.call(service, "echo", text("alice's secret"), EchoResponse.class, id).getText();
    assertThat(answer).isEqualTo("alice's secret for " + victimUser);

    // the request id, as a trace shows it: with another body, and with the very same body
    conflict(() -> attacker.call(service, "echo", text("give me the answer"), EchoResponse.class, id));
    conflict(() -> attacker.call(service, "echo", text("alice's secret"), EchoResponse.class, id));

    // the owner retrying gets its kept answer; the handler ran once
    assertThat(alice.call(service, "echo", text("alice's secret"), EchoResponse.class, id).getText()).isEqualTo(answer);
    // the owner reusing the id for another request: a conflict too, not the other answer
    conflict(() -> alice.call(service, "echo", text("another question"), EchoResponse.class, id));

    assertThat(runs.get() - runsBefore).as("the handler ran for the first call only").isEqualTo(1);
    assertThat(counted("skiff.server.dedupe-conflicts") - conflictsBefore).isEqualTo(3);
  }

  // ---- item 4: replies go to reply queues of the proven caller only ----

  /** A request as a hand-written client makes it, to the test's service, with a reply address. */
  private AMQP.BasicProperties request(String correlationId, String userId, String replyTo) {
    long now = System.currentTimeMillis();
    return new AMQP.BasicProperties.Builder()
        .userId(userId)
        .correlationId(correlationId)
        .messageId("m-" + correlationId)
        .replyTo(replyTo)
        .contentType("application/x-protobuf")
        .type("echo")
        .appId((now + 30_000) + ";" + now + ";hostile;0;")
        .build();
  }

  @Test
  void aReplyAddressThatIsNotTheCallersOwnGetsNoReplyAndIsCounted() throws Exception {
    Channel victim = victimRaw.createChannel();
    // the victim's reply queues: one named for its broker user, as a Skiff client names it, and a
    // server-named one; and a durable queue such as the routing-rule stream
    String victimReplies = "skiff.reply." + victimUser + "." + tag + "v";
    victim.queueDeclare(victimReplies, false, true, true, null);
    String victimServerNamed = victim.queueDeclare().getQueue();
    String durable = "test.replay." + tag + ".rules";
    victim.queueDeclare(durable, true, false, false, null);
    open.register(() -> victimRaw.createChannel().queueDelete(durable));
    List<String> victims = List.of(victimReplies, victimServerNamed, durable);

    Channel attack = malloryRaw.createChannel();
    attack.confirmSelect();
    long refusedBefore = counted("skiff.server.reply-address-refused");
    int runsBefore = runs.get();
    int sent = 0;
    for (String target : victims) {
      attack.basicPublish(AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(service), true, request("a" + sent++, mallory, target),
          text("to " + target).toByteArray());
    }
    // without a user_id the request proves no caller, so no reply queue is its own
    attack.basicPublish(AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(service), true, request("a" + sent++, null, victimReplies),
        text("anonymous").toByteArray());
    attack.waitForConfirmsOrDie(10_000);

    // the attacker's own reply queue (named for its broker user) and direct reply-to are answered
    String own = "skiff.reply." + mallory + "." + tag + "m";
    attack.queueDeclare(own, false, true, true, null);
    BlockingQueue<String> direct = new ArrayBlockingQueue<>(4);
    attack.basicConsume("amq.rabbitmq.reply-to", true, (t, d) -> direct.add(d.getProperties().getCorrelationId()), t -> {});
    attack.basicPublish(AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(service), true, request("own", mallory, own), text("own").toByteArray());
    attack.basicPublish(AmqpNames.RPC_EXCHANGE, AmqpNames.serviceKey(service), true, request("direct", mallory, "amq.rabbitmq.reply-to"),
        text("direct").toByteArray());
    assertThat(direct.poll(10, TimeUnit.SECONDS)).isEqualTo("direct");
    await().atMost(Duration.ofSeconds(10)).until(() -> attack.messageCount(own) == 1);

    // every misdirected request was refused (or, before the fix, answered into the victim's queue)
    await().atMost(Duration.ofSeconds(10)).until(() ->
        counted("skiff.server.reply-address-refused") - refusedBefore == 4 || victims.stream().anyMatch(q -> count(victim, q) > 0));
    for (String q : victims) {
      assertThat(count(victim, q)).as("replies published into " + q).isZero();
    }
    assertThat(counted("skiff.server.reply-address-refused") - refusedBefore).isEqualTo(4);
    assertThat(runs.get() - runsBefore).as("only the two requests with the caller's own reply address ran").isEqualTo(2);
  }

  @Test
  void aForgedRefusalGetsItsCapacityAnswerOnlyInItsSendersOwnReplyQueue() throws Exception {
    // a service with a bounded queue consumes its refusal queue, which any user can publish into through
    // the default exchange, with an x-death header of its own making: the answer (CAPACITY, nothing run)
    // must go where any answer goes, to the proven sender's own reply queue, never to the victim's
    String bounded = service + ".bounded";
    MetricRegistry boundedMetrics = new MetricRegistry();
    AmqpTransport serving = AmqpTransport.connect(AmqpOptions.of(brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(2)));
    open.register(serving);
    AtomicInteger boundedRuns = new AtomicInteger();
    open.register(Server.builder(bounded).transport(serving).announce(false).metrics(boundedMetrics).maxQueueDepth(5)
        .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          boundedRuns.incrementAndGet();
          return EchoResponse.newBuilder().setText(req.getText()).build();
        }).withAccess(Access.anyone()))
        .build().start());
    Channel victim = victimRaw.createChannel();
    String victimReplies = "skiff.reply." + victimUser + "." + tag + "r";
    victim.queueDeclare(victimReplies, false, true, true, null);
    Channel attack = malloryRaw.createChannel();
    String own = "skiff.reply." + mallory + "." + tag + "r";
    attack.queueDeclare(own, false, true, true, null);
    attack.confirmSelect();
    java.util.Map<String, Object> death = java.util.Map.of("reason", "maxlen", "queue", AmqpNames.serviceQueue(bounded), "count", 1L);
    for (String target : List.of(victimReplies, own)) {
      AMQP.BasicProperties forged = request("r-" + target, mallory, target).builder()
          .headers(java.util.Map.of("x-death", List.of(death))).build();
      attack.basicPublish("", AmqpNames.refusalQueue(bounded), false, forged, text("forged").toByteArray());
    }
    attack.waitForConfirmsOrDie(10_000);

    await().atMost(Duration.ofSeconds(10)).until(() -> attack.messageCount(own) == 1);
    GetResponseHolder answer = new GetResponseHolder(attack.basicGet(own, true));
    assertThat(answer.error()).contains("CAPACITY").contains("queue is full");
    await().atMost(Duration.ofSeconds(10)).until(() -> boundedMetrics.counter("skiff.server.reply-address-refused").getCount() == 1);
    assertThat(count(victim, victimReplies)).as("answers published into the victim's reply queue").isZero();
    assertThat(boundedMetrics.counter("skiff.server.queue-full-rejected").getCount()).isEqualTo(1);
    assertThat(boundedRuns.get()).as("a refusal runs nothing").isZero();
  }

  /** A reply taken from a queue, read as Skiff's error. */
  private record GetResponseHolder(com.rabbitmq.client.GetResponse r) {
    String error() throws Exception {
      assertThat(r).isNotNull();
      return dev.skiff.proto.v1.Error.parseFrom(r.getBody()).toString();
    }
  }

  // ---- a reply queue held by a lost connection does not keep a recovered client from its replies ----

  @Test
  void aClientWhoseOldReplyQueueIsStillHeldRecoversUnderANewReplyQueueName() throws Exception {
    String connectionName = "replay-recover-" + tag;
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(brokerUri());
    String vhost = cf.getVirtualHost();
    java.util.Set<String> before = replyQueues(vhost);
    AmqpTransport t = AmqpTransport.connect(AmqpOptions.of(brokerUri()).withConnectionName(connectionName));
    open.register(t);
    Client client = Client.builder().transport(t).name("test.replay.recovering").circuitBreaker(null).build();
    open.register(client);
    CallOptions timeout = CallOptions.timeout(Duration.ofSeconds(20));
    assertThat(client.call(service, "echo", text("before"), EchoResponse.class, timeout).getText()).startsWith("before");

    // the management API lists connections as its statistics come in (every few seconds)
    String connection = await().atMost(Duration.ofSeconds(30)).until(() -> connectionNamed(connectionName), java.util.Objects::nonNull);
    java.util.Set<String> added = new java.util.HashSet<>(replyQueues(vhost));
    added.removeAll(before);
    assertThat(added).as("the client's reply queue").hasSize(1);
    String old = added.iterator().next();

    // the connection is lost, and its reply queue's name is taken before the client recovers (as when
    // the broker has not yet noticed that the old connection is gone: it holds the exclusive queue on)
    manage("DELETE", "/api/connections/" + enc(connection), null);
    String taken = old;
    Connection holder = raw(brokerUri());
    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10)).until(() -> {
      try {
        holder.createChannel().queueDeclare(taken, false, true, true, null);
        return true;
      } catch (java.io.IOException e) {
        return false; // the old connection's queue is not deleted yet
      }
    });
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() ->
        client.call(service, "echo", text("after"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(3))).getText().startsWith("after"));
  }

  /** The broker's name of the connection a client named so, or null while the management API lists none. */
  @SuppressWarnings("unchecked")
  private static String connectionNamed(String clientName) throws Exception {
    for (Object o : com.nimbusds.jose.util.JSONArrayUtils.parse(manage("GET", "/api/connections", null))) {
      java.util.Map<String, Object> c = (java.util.Map<String, Object>) o;
      java.util.Map<String, Object> props = (java.util.Map<String, Object>) c.get("client_properties");
      if (props != null && clientName.equals(props.get("connection_name"))) {
        return (String) c.get("name");
      }
    }
    return null;
  }

  /** The reply queues of the test's own broker user in a virtual host. */
  private java.util.Set<String> replyQueues(String vhost) throws Exception {
    java.util.Set<String> names = new java.util.HashSet<>();
    for (Object o : com.nimbusds.jose.util.JSONArrayUtils.parse(manage("GET", "/api/queues/" + enc(vhost) + "?columns=name", null))) {
      String name = (String) ((java.util.Map<?, ?>) o).get("name");
      if (name.startsWith(AmqpNames.REPLY_QUEUE_PREFIX + victimUser + ".")) {
        names.add(name);
      }
    }
    return names;
  }

  private static long count(Channel ch, String queue) {
    try {
      return ch.messageCount(queue);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
