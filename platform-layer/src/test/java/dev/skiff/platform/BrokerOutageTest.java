package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The broker goes away and comes back, with every client default (retries and circuit breaker
 * included): servers and clients recover with no restart; a call in flight at the loss ends at once with
 * UNAVAILABLE (its reply can no longer arrive); a call made while the connection is lost or recovering
 * is held back, not sent naming a reply queue about to be renamed, and sent once the connection is back
 * if its deadline allows (TIMEOUT, NOT_SENT, if not) — whether or not its endpoint is idempotent, with no
 * retry spent; the breaker never opens; calls after the recovery succeed, over reply queues whose names
 * changed (docs/reliability.md, "Broker restarts"). The broker is the test JVM's private node
 * ({@link Broker}), so its outages touch no other test.
 *
 * <p>And issue 24's proof that losing the broker is routine, every time: cycle after cycle the broker
 * goes away — application stopped, node stopped, or VM killed — for a random time, a call made meanwhile
 * ends within its deadline, and once the broker answers again the same server and client serve a call
 * within {@link #BOUND}; some cycles restart it and stop it again at once, while the clients are in the
 * middle of reconnecting. CI runs three short cycles; the long run (20 cycles, outages from 1 s to 70 s)
 * runs with {@code -Dskiff.faults.long=true}.
 */
class BrokerOutageTest {
  /** From the broker answering AMQP again to a call served end to end (docs/reliability.md). */
  static final Duration BOUND = Duration.ofSeconds(15);

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
    client = Client.builder().transport(clientTransport).build();
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
  void servicesRecoverCallsMadeDuringTheOutageWaitForItAndNoCallHangs(Outage outage) throws Exception {
    assertThat(client.call(service, "echo", text("before"), EchoResponse.class).getText()).isEqualTo("before");

    // a handler that runs until well after the broker has gone; its call's deadline is longer still, so
    // only the loss of the connection can end it before the handler answers
    CallOptions longDeadline = CallOptions.timeout(Duration.ofSeconds(60)).withIdempotent(false);
    CompletableFuture<EchoResponse> inFlight =
        client.callAsync(service, "echo", EchoRequest.newBuilder().setSleepMs(30_000).build(), EchoResponse.class, longDeadline);
    assertThat(slowCallStarted.await(10, TimeUnit.SECONDS)).as("the slow call reached its handler").isTrue();
    down(outage);

    // the call in flight at the loss ends at once with UNAVAILABLE (its reply queue died with the
    // connection), not at its deadline and not when the handler finishes: the handler still sleeps
    assertThatThrownBy(() -> inFlight.get(25, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
          assertThat(e.description()).contains("may or may not have been carried out");
        });

    // while the broker is away, a call is held back, not sent: one with a short deadline ends at it,
    // saying it was never sent (so a caller may send it again whatever the endpoint)
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
        assertThatThrownBy(() -> client.call(service, "echo", EchoRequest.getDefaultInstance(), EchoResponse.class,
                CallOptions.timeout(Duration.ofSeconds(1))))
            .isInstanceOfSatisfying(SkiffException.class, e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT);
              assertThat(e.progress()).isEqualTo(RpcProgress.NOT_SENT);
              assertThat(e.description()).contains("not sent").contains("still recovering");
            }));
    // calls with time left wait for the connection, idempotent or not, and spend no retry
    long retriesBefore = client.metrics().counter("skiff.client.retries").getCount();
    long waitedBefore = client.metrics().counter("skiff.client.waited-for-transport").getCount();
    CompletableFuture<EchoResponse> heldBack =
        client.callAsync(service, "echo", text("held back"), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(60)).withIdempotent(false));
    CompletableFuture<EchoResponse> heldBackIdempotent =
        client.callAsync(service, "echo", text("held back too"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60)));
    assertThat(client.metrics().counter("skiff.client.waited-for-transport").getCount()).isEqualTo(waitedBefore + 2);
    assertThat(heldBack).isNotDone();
    assertThat(heldBackIdempotent).isNotDone();

    up(outage);
    assertThat(heldBack.get(65, TimeUnit.SECONDS).getText()).isEqualTo("held back");
    assertThat(heldBackIdempotent.get(65, TimeUnit.SECONDS).getText()).isEqualTo("held back too");
    assertThat(client.metrics().counter("skiff.client.retries").getCount()).as("no retry spent waiting").isEqualTo(retriesBefore);

    // the same server and client, never restarted, work again
    await().atMost(Duration.ofSeconds(45)).pollInterval(Duration.ofMillis(250)).ignoreExceptionsInstanceOf(SkiffException.class)
        .until(() -> client.call(service, "echo", text("after"), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(1))).getText().equals("after"));
    for (int i = 0; i < 20; i++) {
      assertThat(client.call(service, "echo", text("n" + i), EchoResponse.class).getText()).isEqualTo("n" + i);
    }
    assertThat(client.metrics().counter("skiff.client.circuit-open").getCount()).as("the breaker never opened").isZero();
    assertThat(server.isClosed()).isFalse();
  }

  /**
   * A call held back through an outage whose service is not back when this client's connection is (an
   * instance's connection recovers on its own schedule, and binds its queue after that) is sent again
   * until the service is, within its deadline, instead of failing NOT_FOUND: the broker routed it to no
   * queue, so no instance ran it, and it spends no retry. A service that stays away still fails NOT_FOUND
   * (at the deadline in those first seconds; at once, as ever, after them: {@link RpcContract}).
   */
  @Test
  void aCallHeldBackThroughAnOutageWaitsForItsServiceToBeBackTooNotOnlyTheBroker() throws Exception {
    String late = service + ".late";
    CountDownLatch recovered = new CountDownLatch(1);
    Transport.Subscription watch = clientTransport.watchConnection(new Transport.ConnectionListener() {
      @Override
      public void lost() {}

      @Override
      public void recovered() {
        recovered.countDown();
      }
    });
    assertThat(echo("warm", Duration.ofSeconds(5))).isEqualTo("warm"); // this client's channel is open
    long retriesBefore = client.metrics().counter("skiff.client.retries").getCount();
    broker.stopApp();
    CompletableFuture<EchoResponse> heldBack =
        client.callAsync(late, "echo", text("late"), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(60)).withIdempotent(false));
    // a client whose very first call comes during the outage (no channel yet) holds it back too
    Client newcomer = Client.builder().transport(clientTransport).build();
    CompletableFuture<EchoResponse> firstCall =
        newcomer.callAsync(late, "echo", text("first"), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(60)).withIdempotent(false));
    broker.startApp();
    assertThat(recovered.await(30, TimeUnit.SECONDS)).as("the client's connection recovered").isTrue();
    watch.close();

    // this client is back, the service not yet: the call is not failed NOT_FOUND, it waits
    Thread.sleep(1500); // the service's lag behind the client: a scenario, not a synchronisation
    assertThat(heldBack).as("held back while its service is not back").isNotDone();
    assertThat(firstCall).as("a new client's first call, held back while its service is not back").isNotDone();
    // nor does a call to a service that never comes wait past its deadline: it ends NOT_FOUND then
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> client.call(service + ".never", "echo", text("x"), EchoResponse.class,
            CallOptions.timeout(Duration.ofMillis(1500))))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND);
          assertThat(e.progress()).isEqualTo(RpcProgress.NOT_RECEIVED);
        });
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(4));

    // the service's instance comes back (a new one, on a connection of its own): the held-back call is served
    try (AmqpTransport lateTransport = AmqpTransport.connect(broker.uri());
        Server lateServer = Server.builder(late)
            .transport(lateTransport)
            .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class,
                (req, ctx) -> EchoResponse.newBuilder().setText(req.getText()).build()))
            .build()
            .start()) {
      assertThat(heldBack.get(20, TimeUnit.SECONDS).getText()).isEqualTo("late");
      assertThat(firstCall.get(20, TimeUnit.SECONDS).getText()).isEqualTo("first");
      assertThat(lateServer.isClosed()).isFalse();
    } finally {
      newcomer.close();
    }
    assertThat(client.metrics().counter("skiff.client.resent-after-recovery").getCount()).isPositive();
    assertThat(client.metrics().counter("skiff.client.retries").getCount()).as("no retry spent").isEqualTo(retriesBefore);
  }

  private static EchoRequest text(String t) {
    return EchoRequest.newBuilder().setText(t).build();
  }

  @Test
  void threeShortOutagesOneOfThemWhileReconnectingEachRecoveredWithinTheBound() throws Exception {
    List<Long> recoveries = new ArrayList<>();
    recoveries.add(cycle(1, Outage.STOP_APP, Duration.ofSeconds(1), false));
    recoveries.add(cycle(2, Outage.KILLED, Duration.ofSeconds(2), false));
    recoveries.add(cycle(3, Outage.STOP_APP, Duration.ofSeconds(1), true));
    report("short", recoveries, List.of(1L, 2L, 1L));
  }

  @Test
  @EnabledIfSystemProperty(named = "skiff.faults.long", matches = "true")
  void twentyOutagesOfOneSecondToOverAMinuteEachRecoveredWithinTheBound() throws Exception {
    Random random = new Random(Long.getLong("skiff.faults.seed", System.nanoTime()));
    List<Long> recoveries = new ArrayList<>();
    List<Long> outages = new ArrayList<>();
    for (int i = 1; i <= 20; i++) {
      // lengths spread from 1 s to 70 s: every fourth over a minute
      long seconds = i % 4 == 0 ? 61 + random.nextInt(10) : 1 + random.nextInt(30);
      Outage kind = Outage.values()[random.nextInt(Outage.values().length)];
      outages.add(seconds);
      recoveries.add(cycle(i, kind, Duration.ofSeconds(seconds), i % 3 == 0));
    }
    report("long", recoveries, outages);
  }

  /**
   * One outage: the broker goes away, a call made meanwhile ends within its deadline, the broker comes
   * back (when {@code whileReconnecting}, it is stopped again at once and restarted after a second), and
   * the time until a call is served again is measured.
   *
   * @return milliseconds from the broker answering again to a call served
   */
  private long cycle(int n, Outage kind, Duration outage, boolean whileReconnecting) throws Exception {
    assertThat(echo("before " + n, Duration.ofSeconds(5))).isEqualTo("before " + n);
    down(kind);
    // a call made while the broker is away ends at its deadline, never later, saying it was not sent
    CompletableFuture<EchoResponse> during = client.callAsync(service, "echo", text("during " + n), EchoResponse.class,
        CallOptions.timeout(Duration.ofSeconds(1)));
    assertThatThrownBy(() -> during.get(10, TimeUnit.SECONDS)).cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isIn(ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE));
    Thread.sleep(outage.toMillis()); // the outage itself: a scenario, not a synchronisation
    up(kind);
    if (whileReconnecting) {
      // the clients try every second: stop it again while they are in the middle of it
      broker.stopApp();
      Thread.sleep(1000);
      broker.startApp();
    }
    long back = System.nanoTime();
    long limit = back + BOUND.toNanos() * 2;
    while (true) {
      try {
        if (echo("after " + n, Duration.ofSeconds(1)).equals("after " + n)) {
          break;
        }
      } catch (SkiffException notYet) {
        assertThat(System.nanoTime()).as("cycle %d (%s, %d s%s) recovered within %s", n, kind, outage.toSeconds(),
            whileReconnecting ? ", restarted while reconnecting" : "", BOUND.multipliedBy(2)).isLessThan(limit);
      }
    }
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - back);
    System.out.printf("broker cycle %d: %s for %d s%s, served again after %d ms%n", n, kind, outage.toSeconds(),
        whileReconnecting ? " (restarted while reconnecting)" : "", millis);
    assertThat(Duration.ofMillis(millis)).as("cycle %d recovery", n).isLessThanOrEqualTo(BOUND);
    return millis;
  }

  private void down(Outage kind) {
    switch (kind) {
      case STOP_APP -> broker.stopApp();
      case FULL_RESTART -> broker.stopNode();
      case KILLED -> broker.killNode();
    }
  }

  private void up(Outage kind) {
    switch (kind) {
      case STOP_APP -> broker.startApp();
      case FULL_RESTART, KILLED -> broker.startNode();
    }
  }

  private String echo(String text, Duration timeout) {
    return client.call(service, "echo", text(text), EchoResponse.class, CallOptions.timeout(timeout)).getText();
  }

  private static void report(String run, List<Long> recoveries, List<Long> outages) {
    List<Long> sorted = new ArrayList<>(recoveries);
    sorted.sort(null);
    System.out.printf("broker recovery (%s): %d cycles, outages %s s, recovery p50 %d ms, max %d ms, all within %d s%n",
        run, recoveries.size(), outages, sorted.get(sorted.size() / 2), sorted.get(sorted.size() - 1), BOUND.toSeconds());
  }
}
