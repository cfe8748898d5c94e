package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.RetryPolicy;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The broker goes away and comes back: servers and clients recover with no restart, a call in flight at
 * the loss ends at once with UNAVAILABLE (its reply can no longer arrive), calls during the outage fail
 * within their deadline (never hang), and calls after the recovery succeed, over reply queues whose
 * names changed. While the connection recovers, calls are refused unsent rather than sent naming a reply
 * queue that is about to be renamed. The broker is the test JVM's private node ({@link Broker}), so its
 * outages touch no other test.
 */
class BrokerOutageTest {
  enum Outage {
    /** rabbitmqctl stop_app / start_app: the broker application restarts, the VM stays. */
    STOP_APP,
    /** rabbitmqctl stop / rabbitmq-server -detached: a full node restart. */
    FULL_RESTART,
    /** kill -9 of the broker's VM, then a start. */
    KILLED
  }

  private AmqpTransport serverTransport;
  private AmqpTransport clientTransport;
  private Server server;
  private Client client;
  private final String service = "test.outage." + System.nanoTime() % 100000;
  private final Broker broker = Broker.privateNode();
  private final CountDownLatch slowCallStarted = new CountDownLatch(1);

  @BeforeEach
  void setUp() {
    serverTransport = AmqpTransport.connect(AmqpOptions.of(broker.uri()).withServiceQueueExpiry(Duration.ofMinutes(2)));
    clientTransport = AmqpTransport.connect(broker.uri());
    server =
        Server.builder(service)
            .transport(serverTransport)
            .drainGrace(Duration.ofSeconds(1))
            .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
              if (req.getSleepMs() > 0) {
                slowCallStarted.countDown();
                try {
                  Thread.sleep(req.getSleepMs());
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
              return EchoResponse.newBuilder().setText(req.getText()).build();
            }).asIdempotent())
            .build()
            .start();
    client = Client.builder().transport(clientTransport).circuitBreaker(null).build();
  }

  @AfterEach
  void tearDown() {
    broker.restoreService();
    if (server != null) {
      server.close();
      client.close();
      serverTransport.close();
      clientTransport.close();
    }
  }

  @ParameterizedTest
  @EnumSource(Outage.class)
  void servicesRecoverAndNoCallHangs(Outage outage) throws Exception {
    assertThat(client.call(service, "echo", EchoRequest.newBuilder().setText("before").build(), EchoResponse.class).getText())
        .isEqualTo("before");
    // a caller that retries for long, with its reply queue already open
    Client patient =
        Client.builder().transport(clientTransport).circuitBreaker(null)
            .retryPolicy(RetryPolicy.defaults().withMaxAttempts(200).withBackoff(Duration.ofMillis(200), Duration.ofSeconds(1)))
            .build();
    assertThat(patient.call(service, "echo", EchoRequest.newBuilder().setText("warm").build(), EchoResponse.class).getText())
        .isEqualTo("warm");

    // a handler that runs until well after the broker has gone; its call's deadline is longer still, so
    // only the loss of the connection can end it before the handler answers
    CallOptions longDeadline = CallOptions.timeout(Duration.ofSeconds(60)).withIdempotent(false);
    CompletableFuture<EchoResponse> inFlight =
        client.callAsync(service, "echo", EchoRequest.newBuilder().setSleepMs(30_000).build(), EchoResponse.class, longDeadline);
    assertThat(slowCallStarted.await(10, TimeUnit.SECONDS)).as("the slow call reached its handler").isTrue();
    switch (outage) {
      case STOP_APP -> broker.stopApp();
      case FULL_RESTART -> broker.stopNode();
      case KILLED -> broker.killNode();
    }

    // the call in flight at the loss ends at once with UNAVAILABLE (its reply queue died with the
    // connection), not at its deadline and not when the handler finishes: the handler still sleeps
    assertThatThrownBy(() -> inFlight.get(25, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
          assertThat(e.description()).contains("may or may not have been carried out");
        });

    // while the broker is down, a call fails within its deadline instead of hanging: refused at once
    // (UNAVAILABLE) or, at worst, at its deadline (TIMEOUT)
    assertThatThrownBy(() -> client.callAsync(service, "echo", EchoRequest.getDefaultInstance(), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(2))).get(30, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isIn(ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT));

    // once the connection is recovering, a call is refused before it is sent: a request sent after the
    // channels are back but before the queues are, would name a reply queue that no longer exists and
    // its reply would be lost (the call would end in TIMEOUT, not in a retryable UNAVAILABLE)
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThatThrownBy(() -> client.call(service, "echo", EchoRequest.getDefaultInstance(), EchoResponse.class,
                CallOptions.timeout(Duration.ofSeconds(1))))
            .isInstanceOfSatisfying(SkiffException.class, e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
              assertThat(e.description()).contains("not sent").contains("recovering");
            }));
    // and a call that was never sent is retried even though its endpoint is declared not idempotent:
    // it gets through once the broker is back
    long retriesBefore = patient.metrics().counter("skiff.client.retries").getCount();
    CompletableFuture<EchoResponse> heldBack =
        patient.callAsync(service, "echo", EchoRequest.newBuilder().setText("held back").build(), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(60)).withIdempotent(false));
    // refused unsent and retried, again and again, while the broker stays down
    await().atMost(Duration.ofSeconds(30))
        .until(() -> patient.metrics().counter("skiff.client.retries").getCount() >= retriesBefore + 3);
    assertThat(heldBack).isNotDone();

    switch (outage) {
      case STOP_APP -> broker.startApp();
      case FULL_RESTART, KILLED -> broker.startNode();
    }
    assertThat(heldBack.get(65, TimeUnit.SECONDS).getText()).isEqualTo("held back");
    patient.close();

    // the same server and client, never restarted, work again
    await().atMost(Duration.ofSeconds(45)).pollInterval(Duration.ofMillis(250)).ignoreExceptionsInstanceOf(SkiffException.class)
        .until(() -> client.call(service, "echo", EchoRequest.newBuilder().setText("after").build(), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(1))).getText().equals("after"));
    for (int i = 0; i < 20; i++) {
      assertThat(client.call(service, "echo", EchoRequest.newBuilder().setText("n" + i).build(), EchoResponse.class).getText())
          .isEqualTo("n" + i);
    }
    assertThat(server.isClosed()).isFalse();
  }
}
