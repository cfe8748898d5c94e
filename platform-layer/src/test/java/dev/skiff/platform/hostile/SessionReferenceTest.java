package dev.skiff.platform.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.internal.Closer;
import dev.skiff.platform.internal.TokenReference;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.security.Role;
import dev.skiff.platform.security.TokenRejectedException;
import dev.skiff.platform.security.TokenVerifier;
import dev.skiff.platform.security.UserIdentity;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Session references (docs/security.md "Session references") against the real broker, with two
 * instances of a service open to signed-in people only and two broker users: the test's own (the
 * person's client) and one this class creates for an attacker. A client sends a person's token in full
 * until a call carrying it was answered and then only its 22-character reference; an instance resolves a
 * reference only to a token it verified that came in full from the same broker user.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SessionReferenceTest {
  private static final String ANN = "tok-ann." + "x".repeat(280); // about the size of a real token
  private static final String BOB = "tok-bob." + "y".repeat(280);

  private final String tag = HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
  private final String service = "test.sessions." + tag;
  private final String mallory = "test.sessions." + tag + ".mallory";
  private final Map<String, MetricRegistry> metrics = Map.of("a", new MetricRegistry(), "b", new MetricRegistry());
  private final Set<String> revoked = ConcurrentHashMap.newKeySet();
  private final AtomicInteger runs = new AtomicInteger();
  private final Closer open = new Closer();
  private Client client;
  private Connection malloryRaw;
  private BrokerUsers.User malloryUser;

  /** Pure-logic stand-in for the login service's verifier: two people, and a revocation list. */
  private final TokenVerifier verifier = token -> {
    String user = token.equals(ANN) ? "ann" : token.equals(BOB) ? "bob" : null;
    if (user == null || revoked.contains(token)) {
      throw new TokenRejectedException(
          user == null ? TokenRejectedException.Reason.BAD_SIGNATURE : TokenRejectedException.Reason.REVOKED, "refused");
    }
    return new UserIdentity(user, Set.of(Role.of("READER")), "s-" + user, Instant.EPOCH, Instant.now().plusSeconds(3600));
  };

  @BeforeAll
  void setUp() throws Exception {
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(PoisonMessageTest.brokerUri());
    malloryUser = open.register(BrokerUsers.create(mallory, cf.getVirtualHost()));
    for (String instance : List.of("a", "b")) {
      AmqpTransport t = AmqpTransport.connect(
          AmqpOptions.of(PoisonMessageTest.brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(2)).withConnectionName("sessions-" + instance));
      open.register(t);
      Server s = Server.builder(service).transport(t).instanceId(instance + tag).announce(false).metrics(metrics.get(instance))
          .tokenVerifier(verifier)
          .endpoint(Endpoint.of("whoami", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
            runs.incrementAndGet();
            return EchoResponse.newBuilder().setText(ctx.caller().user().map(UserIdentity::user).orElse("nobody")).build();
          }).withAccess(Access.signedIn()))
          .build().start();
      open.register(s);
    }
    AmqpTransport t = AmqpTransport.connect(AmqpOptions.of(PoisonMessageTest.brokerUri()).withConnectionName("sessions-client"));
    open.register(t);
    client = Client.builder().transport(t).name("test.sessions.caller").circuitBreaker(null).build();
    open.register(client);
    malloryRaw = open.register(malloryUser.connect("sessions-mallory"));
  }

  @AfterAll
  void tearDown() {
    open.close();
  }

  private String whoami(String token, String instance) {
    return client.withScope(CallScope.forUser(token))
        .call(service, "whoami", EchoRequest.getDefaultInstance(), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(20)).withInstance(instance + tag))
        .getText();
  }

  private long unknown(String instance) {
    return metrics.get(instance).counter("skiff.server.session-references.unknown").getCount();
  }

  @Test
  void aTokenGoesInFullOnceThenByReferenceAndAnInstanceThatDoesNotKnowItIsSentItInFullAtOnce() {
    long unknownA = unknown("a");
    long unknownB = unknown("b");
    assertThat(whoami(BOB, "a")).isEqualTo("bob");
    for (int i = 0; i < 5; i++) {
      assertThat(whoami(BOB, "a")).isEqualTo("bob");
    }
    assertThat(unknown("a") - unknownA).as("instance a resolved every reference the client sent it").isZero();

    // instance b has not seen the token: the client's reference is unknown there, once, and the call
    // succeeds all the same, sent again with the token in full
    assertThat(whoami(BOB, "b")).isEqualTo("bob");
    assertThat(unknown("b") - unknownB).as("the client sent b a reference, not the token").isEqualTo(1);
    for (int i = 0; i < 5; i++) {
      assertThat(whoami(BOB, "b")).isEqualTo("bob");
    }
    assertThat(unknown("b") - unknownB).as("after that b knows it").isEqualTo(1);
  }

  @Test
  void aReferenceIsCheckedLikeItsToken() {
    assertThat(whoami(ANN, "a")).isEqualTo("ann");
    assertThat(whoami(ANN, "a")).isEqualTo("ann");
    revoked.add(ANN);
    try {
      assertThatThrownBy(() -> whoami(ANN, "a"))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHORIZED));
    } finally {
      revoked.remove(ANN);
    }
  }

  @Test
  void anotherBrokerUserHoldingAReferenceGetsNothingForIt() throws Exception {
    assertThat(whoami(ANN, "a")).isEqualTo("ann"); // instance a now knows ann's token, from the test's broker user
    int runsBefore = runs.get();
    Channel attack = malloryRaw.createChannel();
    BlockingQueue<AMQP.BasicProperties> replies = new ArrayBlockingQueue<>(8);
    attack.basicConsume(AmqpNames.DIRECT_REPLY_TO, true, (t, d) -> replies.add(d.getProperties()), t -> {});
    String ref = TokenReference.of(ANN);
    List<String> forged = List.of(ref, "not-a-reference", "A".repeat(22), ref + ";text/plain", "@" + ref, "\u0000\u001b[31m" + ref);
    for (int i = 0; i < forged.size(); i++) {
      long now = System.currentTimeMillis();
      AMQP.BasicProperties p = new AMQP.BasicProperties.Builder()
          .userId(mallory)
          .correlationId("m" + i)
          .messageId("m-" + tag + "-" + i)
          .replyTo(AmqpNames.DIRECT_REPLY_TO)
          .contentType("application/x-protobuf")
          .type("whoami")
          .appId((now + 30_000) + ";" + now + ";hostile;0;;@" + forged.get(i))
          .build();
      attack.basicPublish(AmqpNames.RPC_EXCHANGE, AmqpNames.requestKey(service, "a" + tag, null), true, p, new byte[0]);
    }
    for (int i = 0; i < forged.size(); i++) {
      AMQP.BasicProperties reply = replies.poll(20, TimeUnit.SECONDS);
      assertThat(reply).as("a reply to forged reference " + i).isNotNull();
      assertThat(reply.getAppId()).as("reply to " + reply.getCorrelationId()).startsWith("session;");
    }
    assertThat(runs.get()).as("no forged reference ran the handler").isEqualTo(runsBefore);
  }
}
