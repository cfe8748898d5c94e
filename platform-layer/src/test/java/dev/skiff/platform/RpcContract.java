package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.FanOut;
import dev.skiff.platform.client.Reply;
import dev.skiff.platform.internal.Closer;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.RequestContext;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.Transport;
import java.time.Duration;
import java.util.ArrayList;
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
 * What every transport must do the same way: the RPC contract. Subclasses supply the transport; the
 * tests here run unchanged over RabbitMQ and in-process.
 */
abstract class RpcContract {
  protected Transport transport;
  protected Client client;
  /** What a test opened, closed at tear-down newest first: then the client, then the transport. */
  protected final Closer toClose = new Closer();
  protected String echo;
  protected final AtomicInteger handlerRuns = new AtomicInteger();
  /**
   * What echo requests asked to {@code gate} or {@code stuck} wait for: released by the test, and at
   * tear-down. A test may put a new one in place once it released the last.
   */
  protected volatile CountDownLatch gate = new CountDownLatch(1);
  /** How many echo handlers wait at the gate now. */
  protected final AtomicInteger atGate = new AtomicInteger();
  /**
   * Echo requests asked to run {@code together} count this down and wait until it reaches zero: it only
   * opens if as many handlers as it counts run at the same time.
   */
  protected volatile CountDownLatch together = new CountDownLatch(0);

  protected abstract Transport newTransport();

  @BeforeEach
  void setUp() {
    transport = toClose.register(newTransport());
    client = toClose.register(Client.builder().transport(transport).name("test.caller").build());
    echo = "test.echo." + Integer.toHexString(System.identityHashCode(this)) + "." + System.nanoTime() % 100000;
  }

  @AfterEach
  void tearDown() {
    gate.countDown();
    toClose.close();
  }

  protected Server start(String name, Consumer<ServerBuilder> customize) {
    ServerBuilder b =
        Server.builder(name)
            .version("1.2.3")
            .transport(transport)
            .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class, this::echo))
            .endpoint(
                Endpoint.of(
                    "relay",
                    EchoRequest.class,
                    EchoResponse.class,
                    (req, ctx) -> {
                      EchoResponse inner =
                          ctx.client().call(req.getText(), "echo", req.toBuilder().setText("inner").build(), EchoResponse.class);
                      return inner.toBuilder().setText("relayed " + inner.getText() + " in trace " + ctx.traceId()).build();
                    }));
    b.endpoint(Endpoint.of("flaky", EchoRequest.class, EchoResponse.class, this::flaky).asIdempotent());
    b.endpoint(Endpoint.of("flaky-once", EchoRequest.class, EchoResponse.class, this::flaky));
    customize.accept(b);
    Server s = b.build().start();
    toClose.register(s);
    return s;
  }

  protected Server startEcho(Consumer<ServerBuilder> customize) {
    return start(echo, customize);
  }

  protected EchoResponse echo(EchoRequest r, RequestContext ctx) {
    handlerRuns.incrementAndGet();
    if (r.getSleepMs() > 0) {
      try {
        Thread.sleep(r.getSleepMs());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new SkiffException(ErrorCode.UNAVAILABLE, "interrupted");
      }
    }
    switch (r.getFail()) {
      case "" -> {}
      case "boom" -> throw new IllegalStateException("secret database password is hunter2");
      case "gate" -> atGate(false);
      case "stuck" -> atGate(true);
      case "together" -> {
        CountDownLatch t = together;
        t.countDown();
        if (!awaitQuietly(t, Duration.ofSeconds(30), true)) {
          throw new SkiffException(ErrorCode.INTERNAL, t.getCount() + " short of running together");
        }
        sleepQuietly(5); // every such run is a slow one, however quickly the others came
      }
      default -> throw new SkiffException(ErrorCode.valueOf(r.getFail()), "asked to fail").withContext("why", "test");
    }
    return EchoResponse.newBuilder()
        .setText(r.getText())
        .setFromService(ctx.fromService())
        .setRequestId(ctx.requestId())
        .setRemainingMs(ctx.remaining().toMillis())
        .setTraceId(ctx.traceId())
        .setBlobSize(r.getBlob().size())
        .build();
  }

  /**
   * Waits at the gate; a {@code stuck} handler ignores interrupts (as code stuck in a loop or a blocking
   * call that does not answer to them), a gated one ends with UNAVAILABLE when interrupted.
   */
  private void atGate(boolean stuck) {
    atGate.incrementAndGet();
    try {
      if (!awaitQuietly(gate, Duration.ofSeconds(60), !stuck)) {
        throw new SkiffException(ErrorCode.INTERNAL, "the gate was never opened");
      }
    } finally {
      atGate.decrementAndGet();
    }
  }

  /**
   * @param interruptible whether an interrupt ends the wait (with UNAVAILABLE) or is ignored until the
   *     latch opens (and then restored)
   * @return whether the latch opened within the time
   */
  protected static boolean awaitQuietly(CountDownLatch latch, Duration atMost, boolean interruptible) {
    long until = System.nanoTime() + atMost.toNanos();
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return latch.await(until - System.nanoTime(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
          if (interruptible) {
            Thread.currentThread().interrupt();
            throw new SkiffException(ErrorCode.UNAVAILABLE, "interrupted");
          }
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  protected static EchoRequest gated() {
    return EchoRequest.newBuilder().setFail("gate").build();
  }

  protected static EchoRequest stuck() {
    return EchoRequest.newBuilder().setFail("stuck").build();
  }

  protected static EchoRequest together() {
    return EchoRequest.newBuilder().setFail("together").build();
  }

  /** @return the value of one of a server's gauges */
  protected static long gauge(Server s, String name) {
    return ((Number) s.metrics().getGauges().get(name).getValue()).longValue();
  }

  /** Request ids seen by the flaky endpoints, in order. */
  protected final List<String> flakyRuns = java.util.Collections.synchronizedList(new ArrayList<>());

  /** Fails with the code in {@code fail} for the first {@code sleep_ms} runs (abused as a count), then answers. */
  protected EchoResponse flaky(EchoRequest r, RequestContext ctx) {
    flakyRuns.add(ctx.requestId());
    if (flakyRuns.size() <= r.getSleepMs()) {
      throw new SkiffException(ErrorCode.valueOf(r.getFail()), "flaky failure " + flakyRuns.size());
    }
    return EchoResponse.newBuilder().setText("ok after " + flakyRuns.size()).setRequestId(ctx.requestId()).build();
  }

  protected static EchoRequest flakyFor(int failures, ErrorCode code) {
    return EchoRequest.newBuilder().setSleepMs(failures).setFail(code.name()).build();
  }

  protected static EchoRequest text(String t) {
    return EchoRequest.newBuilder().setText(t).build();
  }

  @Test
  void callReturnsTheHandlersResponseWithContext() {
    startEcho(b -> {});
    EchoResponse r = client.call(echo, "echo", text("hi"), EchoResponse.class);
    assertThat(r.getText()).isEqualTo("hi");
    assertThat(r.getFromService()).isEqualTo("test.caller");
    assertThat(r.getRequestId()).hasSize(32);
    assertThat(r.getTraceId()).hasSize(32);
  }

  @Test
  void asyncCallAndReplyTellWhichVersionAndInstanceAnswered() throws Exception {
    Server s = startEcho(b -> b.instanceId("inst-1"));
    Reply<EchoResponse> r =
        client.exchange(echo, "echo", text("a"), EchoResponse.class, CallOptions.defaults()).get();
    assertThat(r.value().getText()).isEqualTo("a");
    assertThat(r.serviceVersion()).isEqualTo("1.2.3");
    assertThat(r.instance()).isEqualTo(s.instanceId());
    CompletableFuture<EchoResponse> f = client.callAsync(echo, "echo", text("b"), EchoResponse.class);
    assertThat(f.get().getText()).isEqualTo("b");
  }

  @Test
  void callToOneInstanceReachesThatInstance() {
    Server a = startEcho(b -> b.instanceId("aaa"));
    Server b2 = startEcho(b -> b.instanceId("bbb"));
    for (int i = 0; i < 6; i++) {
      Reply<EchoResponse> r = Client.await(
          client.exchange(echo, "echo", text("x"), EchoResponse.class, CallOptions.defaults().withInstance("bbb")));
      assertThat(r.instance()).isEqualTo(b2.instanceId());
    }
    assertThat(a.instanceId()).isEqualTo("aaa");
  }

  @Test
  void handlerErrorReachesCallerWithCodeDescriptionAndOrigin() {
    Server s = startEcho(b -> {});
    assertThatThrownBy(() -> client.call(echo, "echo", EchoRequest.newBuilder().setFail("CONFLICT").build(), EchoResponse.class))
        .isInstanceOfSatisfying(
            SkiffException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.CONFLICT);
              assertThat(e.description()).isEqualTo("asked to fail");
              assertThat(e.context()).containsEntry("why", "test");
              assertThat(e.service()).isEqualTo(echo);
              assertThat(e.endpoint()).isEqualTo("echo");
              assertThat(e.instance()).isEqualTo(s.instanceId());
              assertThat(e.requestId()).hasSize(32);
            });
  }

  /**
   * Starts payments, whose {@code charge} refuses every request BAD_REQUEST about its own field (or fails
   * with the code in {@code fail}, counting its runs), and checkout, whose {@code pay} calls it and does not
   * handle its errors; both idempotent. Returns {payments, checkout}.
   */
  private String[] startCheckoutAndPayments(AtomicInteger chargeRuns, AtomicInteger payRuns, Consumer<ServerBuilder> checkout) {
    String payments = echo + ".payments";
    String checkoutName = echo + ".checkout";
    start(payments, b -> b.endpoint(Endpoint.of("charge", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
      chargeRuns.incrementAndGet();
      if (!req.getFail().isEmpty()) {
        throw new SkiffException(ErrorCode.valueOf(req.getFail()), "asked to fail by " + ctx.fromService());
      }
      throw new SkiffException(ErrorCode.BAD_REQUEST, "amount_pence must be positive").withContext("field", "amount_pence");
    }).asIdempotent()));
    start(checkoutName, b -> {
      b.endpoint(Endpoint.of("pay", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
        payRuns.incrementAndGet();
        return ctx.client().call(payments, "charge", req, EchoResponse.class);
      }).asIdempotent());
      checkout.accept(b);
    });
    return new String[] {payments, checkoutName};
  }

  @Test
  void aCallersFaultThatANestedCallGotIsAnsweredAsTheHandlersInternalErrorNamingTheCallee() {
    AtomicInteger chargeRuns = new AtomicInteger();
    AtomicInteger payRuns = new AtomicInteger();
    String[] names = startCheckoutAndPayments(chargeRuns, payRuns, b -> {});
    String payments = names[0];
    String checkout = names[1];
    // payments refuses checkout's request about its own field: checkout's caller sent nothing wrong
    assertThatThrownBy(() -> client.call(checkout, "pay", text("order 1"), EchoResponse.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL);
          assertThat(e.service()).isEqualTo(checkout);
          assertThat(e.endpoint()).isEqualTo("pay");
          assertThat(e.description()).contains(payments + "/charge").contains("BAD_REQUEST").doesNotContain("amount_pence");
          assertThat(e.context()).containsEntry("callee", payments + "/charge").containsEntry("callee_code", "BAD_REQUEST")
              .doesNotContainKey("field");
          assertThat(e.callee()).contains(new Callee(checkout, "pay", false));
        });
    // every fault of a caller is translated the same way; and neither hop retried it
    for (ErrorCode code : List.of(ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT)) {
      assertThatThrownBy(() -> client.call(checkout, "pay", EchoRequest.newBuilder().setFail(code.name()).build(), EchoResponse.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> {
            assertThat(e.code()).as(code.name()).isEqualTo(ErrorCode.INTERNAL);
            assertThat(e.context()).containsEntry("callee_code", code.name());
          });
    }
    assertThat(chargeRuns).hasValue(5);
    assertThat(payRuns).hasValue(5);
    // called directly, payments' answer is its caller's fault, and says so
    assertThatThrownBy(() -> client.call(payments, "charge", text("order 1"), EchoResponse.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
          assertThat(e.description()).isEqualTo("amount_pence must be positive");
          assertThat(e.callee()).contains(new Callee(payments, "charge", false));
        });
  }

  @Test
  void aHandlerPassesANestedCallsErrorToItsCallerOnlyOnPurpose() {
    AtomicInteger chargeRuns = new AtomicInteger();
    AtomicInteger payRuns = new AtomicInteger();
    String[] names = startCheckoutAndPayments(chargeRuns, payRuns, b -> b
        .endpoint(Endpoint.of("refund", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          try {
            return ctx.client().call(echo + ".payments", "charge", req, EchoResponse.class);
          } catch (SkiffException e) {
            if (e.code() == ErrorCode.NOT_FOUND) {
              throw e.passThrough(); // the order id came from the caller: payments' answer is the caller's too
            }
            throw new SkiffException(ErrorCode.BAD_REQUEST, "no refund for this order: " + e.code());
          }
        })));
    String payments = names[0];
    String checkout = names[1];
    assertThatThrownBy(
            () -> client.call(checkout, "refund", EchoRequest.newBuilder().setFail("NOT_FOUND").build(), EchoResponse.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND);
          assertThat(e.description()).isEqualTo("asked to fail by " + checkout);
          assertThat(e.service()).isEqualTo(payments);
          assertThat(e.endpoint()).isEqualTo("charge");
        });
    // a new error of the handler's own is answered as it is
    assertThatThrownBy(() -> client.call(checkout, "refund", text("order 2"), EchoResponse.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
          assertThat(e.description()).isEqualTo("no refund for this order: BAD_REQUEST");
          assertThat(e.service()).isEqualTo(checkout);
        });
  }

  @Test
  void aTransientErrorFromFurtherDownKeepsItsCodeAndOriginAndIsRetriedOnlyByTheHopNearestIt() {
    AtomicInteger chargeRuns = new AtomicInteger();
    AtomicInteger payRuns = new AtomicInteger();
    String[] names = startCheckoutAndPayments(chargeRuns, payRuns, b -> {});
    String payments = names[0];
    String checkout = names[1];
    try (Client retrying = Client.builder().transport(transport).circuitBreaker(null).build()) {
      for (ErrorCode code : List.of(ErrorCode.CAPACITY, ErrorCode.UNAVAILABLE)) {
        chargeRuns.set(0);
        payRuns.set(0);
        assertThatThrownBy(
                () -> retrying.call(checkout, "pay", EchoRequest.newBuilder().setFail(code.name()).build(), EchoResponse.class))
            .isInstanceOfSatisfying(SkiffException.class, e -> {
              assertThat(e.code()).as(code.name()).isEqualTo(code);
              assertThat(e.service()).isEqualTo(payments);
              assertThat(e.endpoint()).isEqualTo("charge");
              assertThat(e.context()).containsEntry("attempts", "3").doesNotContainKey("callee");
            });
        // checkout's client tried payments three times (both idempotent); checkout's caller did not try
        // checkout again, or payments would have seen nine
        assertThat(chargeRuns).as(code.name()).hasValue(3);
        assertThat(payRuns).as(code.name()).hasValue(1);
      }
    }
  }

  @Test
  void unexpectedExceptionBecomesInternalWithoutDetailsAndServiceKeepsServing() {
    startEcho(b -> {});
    assertThatThrownBy(() -> client.call(echo, "echo", EchoRequest.newBuilder().setFail("boom").build(), EchoResponse.class))
        .isInstanceOfSatisfying(
            SkiffException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL);
              assertThat(e.description()).doesNotContain("hunter2").doesNotContain("IllegalStateException").doesNotContain("at dev.");
              assertThat(e.description()).contains("request id");
            });
    assertThat(client.call(echo, "echo", text("still here"), EchoResponse.class).getText()).isEqualTo("still here");
  }

  @Test
  void unknownEndpointIsNotFoundAndNamesTheEndpoint() {
    startEcho(b -> {});
    assertThatThrownBy(() -> client.call(echo, "nope", text("x"), EchoResponse.class))
        .isInstanceOfSatisfying(
            SkiffException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND);
              assertThat(e.description()).contains("'nope'").contains("echo");
              assertThat(e.progress()).as("an instance received it and answered").isEqualTo(RpcProgress.SENT);
            });
  }

  @Test
  void unknownServiceFailsAtOnceNotAtItsTimeout() {
    // NOT_FOUND is the proof: a call that waited for its 20-s timeout would end with TIMEOUT
    assertThatThrownBy(
            () -> client.call("test.nobody.here", "echo", text("x"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(20))))
        .isInstanceOfSatisfying(
            SkiffException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND);
              assertThat(e.description()).contains("test.nobody.here");
              // no server received it: sending it again could not run it twice
              assertThat(e.progress()).isEqualTo(RpcProgress.NOT_RECEIVED);
            });
  }

  @Test
  void invalidNamesAreRefusedWithAClearError() {
    assertThatThrownBy(() -> client.call("bad name!", "echo", text("x"), EchoResponse.class))
        .isInstanceOfSatisfying(
            SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST));
    assertThatThrownBy(() -> Server.builder("Bad Name")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Bad Name");
  }

  @Test
  void callTimesOutAtItsTimeoutAndTheLateReplyIsCountedAndDropped() throws Exception {
    // the server's clock runs a minute behind, so that its own watchdog (which answers TIMEOUT 100 ms
    // past the deadline) stays out of it: the only reply is the handler's, and it comes late
    startEcho(b -> b.clock(java.time.Clock.offset(java.time.Clock.systemUTC(), Duration.ofMinutes(-1))));
    Duration timeout = Duration.ofSeconds(2);
    long t0 = System.nanoTime();
    CompletableFuture<EchoResponse> call = client.callAsync(echo, "echo", gated(), EchoResponse.class, CallOptions.timeout(timeout));
    await().atMost(Duration.ofSeconds(30)).until(() -> atGate.get() == 1);
    assertThatThrownBy(() -> call.get(60, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT));
    // not before its timeout (the deadline is counted in whole milliseconds), and while the handler still ran
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(timeout.minusMillis(10));
    assertThat(atGate.get()).as("the handler is still running").isEqualTo(1);
    assertThat(client.metrics().counter("skiff.client.late-replies").getCount()).isZero();
    gate.countDown();
    // the handler's reply arrives after the caller gave up: counted, and it completes nothing
    await().atMost(Duration.ofSeconds(30))
        .until(() -> client.metrics().counter("skiff.client.late-replies").getCount() >= 1);
    assertThat(client.metrics().counter("skiff.client.late-replies").getCount()).isEqualTo(1);
    assertThat(client.metrics().counter("skiff.client.timeouts").getCount()).isEqualTo(1);
  }

  @Test
  void nestedCallGetsTheSmallerOfItsTimeoutAndWhatRemainsOfItsCallersAndKeepsTheTrace() {
    startEcho(b -> {});
    String outer = echo + ".outer";
    start(outer, b -> b.clientTimeout(Duration.ofSeconds(30)));
    EchoResponse r =
        client.call(outer, "relay", EchoRequest.newBuilder().setText(echo).build(), EchoResponse.class,
            CallOptions.timeout(Duration.ofMillis(1500)));
    assertThat(r.getRemainingMs()).isPositive().isLessThanOrEqualTo(1500);
    assertThat(r.getFromService()).isEqualTo(outer);
    assertThat(r.getText()).isEqualTo("relayed inner in trace " + r.getTraceId());
  }

  @Test
  void serverNeverStartsWorkWhoseDeadlineHasPassed() {
    Server s = startEcho(b -> b.concurrency(1));
    CompletableFuture<EchoResponse> slow =
        client.callAsync(echo, "echo", gated(), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60)));
    await().atMost(Duration.ofSeconds(30)).until(() -> atGate.get() == 1);
    // the only handler is held: this one waits behind it until its deadline has passed
    CompletableFuture<EchoResponse> doomed =
        client.callAsync(echo, "echo", text("late"), EchoResponse.class, CallOptions.timeout(Duration.ofMillis(150)));
    assertThatThrownBy(() -> doomed.get(60, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT));
    gate.countDown();
    assertThat(slow.join().getText()).isEmpty();
    await().atMost(Duration.ofSeconds(30))
        .until(() -> s.metrics().counter("skiff.server.dropped-expired").getCount() == 1);
    assertThat(handlerRuns.get()).as("the expired request's handler never ran").isEqualTo(1);
  }

  @Test
  void fanOutRunsCallsInParallelAndKeepsEachError() {
    startEcho(b -> b.concurrency(16));
    client.call(echo, "echo", text("warm"), EchoResponse.class);
    FanOut fan = client.fanOut(16);
    List<FanOut.Pending<EchoResponse>> calls = new ArrayList<>();
    // each of the ten handlers waits until all ten run: they succeed only if the calls run in parallel
    together = new CountDownLatch(10);
    for (int i = 0; i < 10; i++) {
      calls.add(fan.call(echo, "echo", together().toBuilder().setText("n" + i).build(), EchoResponse.class,
          CallOptions.timeout(Duration.ofSeconds(60))));
    }
    FanOut.Pending<EchoResponse> bad = fan.call(echo, "echo", EchoRequest.newBuilder().setFail("FORBIDDEN").build(), EchoResponse.class);
    FanOut.Result result = fan.awaitAll();
    assertThat(result.size()).isEqualTo(11);
    assertThat(result.succeeded()).isEqualTo(10);
    assertThat(result.errors()).singleElement().satisfies(e -> assertThat(e.code()).isEqualTo(ErrorCode.FORBIDDEN));
    assertThat(calls.get(7).get().getText()).isEqualTo("n7");
    assertThat(bad.error()).isPresent();
    assertThatThrownBy(bad::get).isInstanceOf(SkiffException.class);
  }

  @Test
  void aHandlerThatWasQuickAndThenBlocksDoesNotHoldUpTheRequestsBehindIt() {
    // Requests of an endpoint whose handler has always been quick run one after another on a thread
    // that is awake (HandlerQueue). When that handler starts to block, the requests queued behind it must
    // still get threads of their own, not wait for it: eight calls whose handlers each wait until all
    // eight run at once all succeed; and so again once the endpoint is known to block.
    Server s = startEcho(b -> b.concurrency(16));
    assertThat(gauge(s, "skiff.server.endpoint.echo.batched")).as("a new endpoint's requests each wake a thread").isZero();
    // quick calls until the server batches them (a cold JVM's first runs are slow now and then), and
    // then until it still does after 400 more: a run counts towards the pace just after its reply, so
    // one just over the line could still be tipped back by the last runs of the warm-up
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(1)).until(() -> {
      boolean before = gauge(s, "skiff.server.endpoint.echo.batched") == 1;
      FanOut warm = client.fanOut(4);
      for (int i = 0; i < 400; i++) {
        warm.call(echo, "echo", text("quick" + i), EchoResponse.class);
      }
      assertThat(warm.awaitAll().allSucceeded()).isTrue();
      return before && gauge(s, "skiff.server.endpoint.echo.batched") == 1;
    });
    for (int round = 0; round < 2; round++) {
      together = new CountDownLatch(8);
      FanOut fan = client.fanOut(16);
      for (int i = 0; i < 8; i++) {
        fan.call(echo, "echo", together(), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60)));
      }
      FanOut.Result r = fan.awaitAll();
      assertThat(r.errors()).as("round " + round + ": eight blocking calls all ran at once").isEmpty();
    }
    assertThat(gauge(s, "skiff.server.endpoint.echo.batched")).as("an endpoint seen to block wakes a thread per request again").isZero();
  }

  /**
   * An endpoint that counts the handlers running at once ({@code now}, most seen in {@code max}); each
   * waits (up to 30 s) until a second one has run, so that two run together whenever two may, however
   * slow the machine, then sleeps a little so that more would overlap if more were let in.
   */
  private static Endpoint<EchoRequest, EchoResponse> counting(AtomicInteger now, AtomicInteger max, CountDownLatch pair) {
    return Endpoint.of("count", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
      max.accumulateAndGet(now.incrementAndGet(), Math::max);
      try {
        pair.countDown();
        awaitQuietly(pair, Duration.ofSeconds(30), true);
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        now.decrementAndGet();
      }
      return EchoResponse.getDefaultInstance();
    });
  }

  /**
   * Makes {@code calls} calls through a fan-out of {@code width} to a server running {@code concurrency}
   * handlers, each held until a second one runs beside it, and returns the most that ran at once.
   */
  private int mostRunningAtOnce(int concurrency, int width, int calls) {
    AtomicInteger now = new AtomicInteger();
    AtomicInteger max = new AtomicInteger();
    startEcho(b -> b.concurrency(concurrency).endpoint(counting(now, max, new CountDownLatch(2))));
    FanOut fan = client.fanOut(width);
    for (int i = 0; i < calls; i++) {
      fan.call(echo, "count", text(""), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60)));
    }
    assertThat(fan.awaitAll().errors()).isEmpty();
    return max.get();
  }

  @Test
  void fanOutBoundsItsConcurrency() {
    assertThat(mostRunningAtOnce(16, 2, 6)).as("calls of the fan-out running at once, at most").isEqualTo(2);
  }

  @Test
  void handlerConcurrencyIsBounded() {
    assertThat(mostRunningAtOnce(2, 10, 8)).as("handlers running at once, at most").isEqualTo(2);
  }

  @Test
  void aHandlerThatHangsPastItsDeadlineDoesNotTakeTheServiceDown() {
    Server s = startEcho(b -> b.concurrency(1));
    assertThatThrownBy(() -> client.call(echo, "echo", stuck(), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(1))))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT));
    await().atMost(Duration.ofSeconds(30)).until(() -> s.metrics().counter("skiff.server.handler-overruns").getCount() == 1);
    // the only handler thread is still stuck (it ignores interrupts) and stays so: the service must
    // still answer, on a thread it added
    assertThat(atGate.get()).as("the stuck handler still runs").isEqualTo(1);
    assertThat(client.call(echo, "echo", text("alive"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(30))).getText())
        .isEqualTo("alive");
    assertThat(atGate.get()).as("the stuck handler still runs").isEqualTo(1);
  }

  @Test
  void aNonBlockingEndpointRunsWithoutTheHandlerPoolAndStillKeepsItsDeadline() {
    java.util.Set<String> threads = java.util.concurrent.ConcurrentHashMap.newKeySet();
    startEcho(b -> b.endpoint(
        Endpoint.of("direct", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          threads.add(Thread.currentThread().getName());
          return echo(req, ctx);
        }).asNonBlocking()));
    for (int i = 0; i < 20; i++) {
      EchoResponse r = client.call(echo, "direct", text("d" + i), EchoResponse.class);
      assertThat(r.getText()).isEqualTo("d" + i);
      assertThat(r.getFromService()).isEqualTo("test.caller");
    }
    // the handler never ran on the service's handler pool
    assertThat(threads).isNotEmpty().noneMatch(t -> t.startsWith("skiff-handler-"));
    // errors map as on the pool
    assertThatThrownBy(() -> client.call(echo, "direct", EchoRequest.newBuilder().setFail("CONFLICT").build(), EchoResponse.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CONFLICT));
    // a handler that breaks its promise and runs past the deadline is answered TIMEOUT, and the
    // service goes on serving afterwards
    assertThatThrownBy(
            () -> client.call(echo, "direct", EchoRequest.newBuilder().setSleepMs(400).build(), EchoResponse.class,
                CallOptions.timeout(Duration.ofMillis(150))))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT));
    assertThat(client.call(echo, "direct", text("after"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(2))).getText())
        .isEqualTo("after");
  }

  /**
   * A non-blocking handler runs on the thread that delivers requests (over AMQP, the reading thread of
   * the connection services are served on). One that starts a call to another service without waiting
   * for it (a notification, say) opens its client's channel on the first call, which waits for the
   * broker's answers: that must not need the thread it runs on.
   */
  @Test
  void aNonBlockingHandlerMayStartACallToAnotherService() {
    startEcho(b -> {});
    String outer = echo + ".nb";
    List<CompletableFuture<EchoResponse>> started = java.util.Collections.synchronizedList(new ArrayList<>());
    start(outer, b -> b.endpoint(
        Endpoint.of("notify", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          started.add(ctx.client().callAsync(echo, "echo", text("inner " + req.getText()), EchoResponse.class));
          return EchoResponse.newBuilder().setText("started " + req.getText()).build();
        }).asNonBlocking()));
    for (int i = 0; i < 3; i++) {
      assertThat(client.call(outer, "notify", text("n" + i), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(3))).getText())
          .isEqualTo("started n" + i);
    }
    assertThat(started).hasSize(3);
    for (int i = 0; i < 3; i++) {
      assertThat(started.get(i).orTimeout(3, java.util.concurrent.TimeUnit.SECONDS).join().getText()).isEqualTo("inner n" + i);
    }
  }

  /** Sends a 2000-byte request through {@code c}, expecting BAD_REQUEST for the limit of 1000 bytes. */
  private void assertRefusedAsOverTheLimitOf1000Bytes(Client c) {
    EchoRequest big = EchoRequest.newBuilder().setBlob(ByteString.copyFrom(new byte[2000])).build();
    assertThatThrownBy(() -> c.call(echo, "echo", big, EchoResponse.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
          assertThat(e.description()).contains("over the message size limit of 1000 bytes");
        });
  }

  @Test
  void oversizedRequestIsRefusedByTheClientBeforeSending() {
    startEcho(b -> {});
    try (Client small = Client.builder().transport(transport).maxMessageBytes(1000).build()) {
      assertRefusedAsOverTheLimitOf1000Bytes(small);
    }
    assertThat(handlerRuns.get()).isZero();
  }

  @Test
  void oversizedRequestIsRefusedByTheServerWithAClearError() {
    Server s = startEcho(b -> b.maxMessageBytes(1000));
    assertRefusedAsOverTheLimitOf1000Bytes(client);
    assertThat(handlerRuns.get()).isZero();
    assertThat(s.metrics().counter("skiff.server.too-large").getCount()).isEqualTo(1);
    EchoRequest ok = EchoRequest.newBuilder().setBlob(ByteString.copyFrom(new byte[500])).build();
    assertThat(client.call(echo, "echo", ok, EchoResponse.class).getBlobSize()).isEqualTo(500);
    assertThat(s.metrics().counter("skiff.server.too-large").getCount()).as("one under the limit is not counted").isEqualTo(1);
  }

  private static String requestId(int i) {
    return String.format("%032x", i);
  }

  @Test
  void keptAnswersAreCountedAndBoundedByTheDedupeSizeAndWindow() {
    // the default (1 minute, 16 MiB) keeps every one of 50 answers
    Server roomy = startEcho(b -> {});
    for (int i = 0; i < 50; i++) {
      client.call(echo, "echo", text("answer " + i), EchoResponse.class, CallOptions.defaults().withRequestId(requestId(i)));
    }
    assertThat(gauge(roomy, "skiff.server.dedupe-entries")).isEqualTo(50);
    roomy.close();
    // 8 KiB hold at most 16 answers of more than 500 bytes: the oldest go, the newest are still answered
    Server small = startEcho(b -> b.dedupe(Duration.ofMinutes(1), 8192));
    String big = "x".repeat(600);
    for (int i = 0; i < 50; i++) {
      client.call(echo, "echo", text(big + i), EchoResponse.class, CallOptions.defaults().withRequestId(requestId(100 + i)));
    }
    assertThat(gauge(small, "skiff.server.dedupe-entries")).isBetween(1L, 16L);
    int runs = handlerRuns.get();
    assertThat(client.call(echo, "echo", text(big + 49), EchoResponse.class, CallOptions.defaults().withRequestId(requestId(149))).getText())
        .isEqualTo(big + 49);
    assertThat(handlerRuns.get()).as("the newest answer was kept").isEqualTo(runs);
    client.call(echo, "echo", text(big + 0), EchoResponse.class, CallOptions.defaults().withRequestId(requestId(100)));
    assertThat(handlerRuns.get()).as("the oldest was not kept: it ran again").isEqualTo(runs + 1);
    small.close();
    // answers are kept for the window, not longer
    Server brief = startEcho(b -> b.dedupe(Duration.ofSeconds(2), 1 << 20));
    for (int i = 0; i < 10; i++) {
      client.call(echo, "echo", text("brief " + i), EchoResponse.class, CallOptions.defaults().withRequestId(requestId(200 + i)));
    }
    assertThat(gauge(brief, "skiff.server.dedupe-entries")).isPositive();
    await().atMost(Duration.ofSeconds(30)).until(() -> gauge(brief, "skiff.server.dedupe-entries") == 0);
    int before = handlerRuns.get();
    client.call(echo, "echo", text("brief 0"), EchoResponse.class, CallOptions.defaults().withRequestId(requestId(200)));
    assertThat(handlerRuns.get()).as("an answer past the window is gone").isEqualTo(before + 1);
  }

  @Test
  void defaultSizeLimitIsFourMebibytes() {
    startEcho(b -> {});
    EchoRequest justUnder = EchoRequest.newBuilder().setBlob(ByteString.copyFrom(new byte[(4 << 20) - 64])).build();
    assertThat(client.call(echo, "echo", justUnder, EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(10))).getBlobSize())
        .isEqualTo((4 << 20) - 64);
    EchoRequest over = EchoRequest.newBuilder().setBlob(ByteString.copyFrom(new byte[(4 << 20) + 1])).build();
    assertThatThrownBy(() -> client.call(echo, "echo", over, EchoResponse.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST));
  }

  @Test
  void jsonRequestsAreDecodedAndAnsweredInJson() throws Exception {
    startEcho(b -> {});
    Reply<String> r = client.callJson(echo, "echo", "{\"text\": \"from a tool\"}", CallOptions.defaults()).get();
    assertThat(r.value()).contains("\"text\": \"from a tool\"").contains("\"blobSize\": 0");
  }

  @Test
  void anUnknownJsonFieldIsNamedAsUnknownWithTheValidFieldsAndTheHandlerDoesNotRun() {
    startEcho(b -> {});
    assertThatThrownBy(() -> Client.await(client.callJson(echo, "echo", "{\"nmae\": \"Ada\"}", CallOptions.defaults())))
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
          assertThat(e.description())
              .isEqualTo("unknown field \"nmae\" in skiff.test.EchoRequest; valid fields: text, sleep_ms, fail, blob, hold");
        });
    assertThat(handlerRuns).hasValue(0);
  }

  @Test
  void malformedJsonIsBadRequestAndNamesTheType() {
    startEcho(b -> {});
    assertThatThrownBy(() -> Client.await(client.callJson(echo, "echo", "{\"text\": ", CallOptions.defaults())))
        .isInstanceOfSatisfying(
            SkiffException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
              assertThat(e.description()).contains("skiff.test.EchoRequest");
            });
    assertThatThrownBy(() -> Client.await(client.callJson(echo, "echo", "{\"nosuchfield\": 1}", CallOptions.defaults())))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST));
    assertThat(handlerRuns.get()).isZero();
  }

  /**
   * The instances of service {@code echo} heard announcing themselves (docs/routing.md): {@code running}
   * once one has been heard (servers started with a short heartbeat are heard soon), {@code stopping}
   * once its close has begun (a server announces STOPPING first thing in close()).
   */
  protected record Announced(java.util.Set<String> running, java.util.Set<String> stopping) {}

  protected Announced listenToAnnouncements() {
    Announced seen = new Announced(java.util.concurrent.ConcurrentHashMap.newKeySet(), java.util.concurrent.ConcurrentHashMap.newKeySet());
    Transport.Subscription sub = new dev.skiff.platform.pubsub.PubSub(transport).subscribe(
        dev.skiff.platform.discovery.Announcer.TOPIC_PREFIX + echo, null, dev.skiff.proto.v1.InstanceAnnouncement.class,
        (topic, a) -> (a.getState() == dev.skiff.proto.v1.InstanceAnnouncement.State.STOPPING ? seen.stopping() : seen.running())
            .add(a.getInstance()));
    toClose.register(sub::close);
    return seen;
  }

  @Test
  void closeDrainsInFlightRequestsBeforeStopping() throws Exception {
    Announced announced = listenToAnnouncements();
    Server s = startEcho(b -> b.drainGrace(Duration.ofSeconds(60)).heartbeat(Duration.ofMillis(100)));
    await().atMost(Duration.ofSeconds(30)).until(() -> announced.running().contains(s.instanceId()));
    CompletableFuture<EchoResponse> inFlight =
        client.callAsync(echo, "echo", gated().toBuilder().setText("finish me").build(), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(60)));
    await().atMost(Duration.ofSeconds(30)).until(() -> atGate.get() == 1);
    CompletableFuture<Void> closing = CompletableFuture.runAsync(s::close);
    // the close has begun while the handler is held; it waits for the handler
    await().atMost(Duration.ofSeconds(30)).until(() -> announced.stopping().contains(s.instanceId()));
    assertThat(closing).isNotDone();
    assertThat(s.isClosed()).isFalse();
    gate.countDown();
    closing.get(60, TimeUnit.SECONDS);
    assertThat(inFlight.get(60, TimeUnit.SECONDS).getText()).isEqualTo("finish me");
    assertThat(s.isClosed()).isTrue();
  }

  @Test
  void requestsStillRunningAfterTheDrainGraceAreAnsweredUnavailable() {
    Server s = startEcho(b -> b.drainGrace(Duration.ofMillis(150)));
    CompletableFuture<EchoResponse> inFlight =
        client.callAsync(echo, "echo", stuck(), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60)));
    await().atMost(Duration.ofSeconds(30)).until(() -> atGate.get() == 1);
    s.close();
    // the call had 60 s left and its handler still runs (stuck, it ignores the interrupt): the answer
    // is the drain's UNAVAILABLE, not a timeout
    assertThat(s.isClosed()).isTrue();
    assertThatThrownBy(() -> inFlight.get(60, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
          assertThat(e.description()).contains("stopped before the request finished");
        });
    assertThat(atGate.get()).as("the stuck handler still runs").isEqualTo(1);
  }

  /** What an instance's "work" handler does: holds the first call to come after {@code armed} is set. */
  private record Hold(java.util.concurrent.atomic.AtomicBoolean armed, CountDownLatch held, CountDownLatch release) {
    Hold() {
      this(new java.util.concurrent.atomic.AtomicBoolean(), new CountDownLatch(1), new CountDownLatch(1));
    }
  }

  @Test
  void aRollingRestartReplacesEachInstanceUnderLoadAndNoCallFails() throws Exception {
    // Two instances, each replaced in turn under steady load: the new one is started and serving before
    // the old one is closed. While the old one drains, a call it runs is held (so the close provably
    // overlaps it) and other calls keep being served from start to end within the close.
    Announced announced = listenToAnnouncements();
    Map<String, Hold> holds = new java.util.concurrent.ConcurrentHashMap<>();
    java.util.function.Function<String, Server> instance = id -> {
      Hold hold = new Hold();
      holds.put(id, hold);
      return startEcho(b -> b.instanceId(id).heartbeat(Duration.ofMillis(100)).drainGrace(Duration.ofSeconds(60))
          .endpoint(Endpoint.of("work", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
            if (hold.armed().compareAndSet(true, false)) {
              hold.held().countDown();
              awaitQuietly(hold.release(), Duration.ofSeconds(60), true);
            } else {
              try {
                Thread.sleep(5);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
            return EchoResponse.newBuilder().setText(req.getText()).build();
          })));
    };
    Map<String, AtomicInteger> servedBy = new java.util.concurrent.ConcurrentHashMap<>();
    List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    java.util.concurrent.atomic.AtomicReference<String> closing = new java.util.concurrent.atomic.AtomicReference<>();
    AtomicInteger servedWithinAClose = new AtomicInteger();
    java.util.concurrent.atomic.AtomicBoolean loading = new java.util.concurrent.atomic.AtomicBoolean(true);
    Map<String, Server> running = new java.util.LinkedHashMap<>();
    running.put("a1", instance.apply("a1"));
    running.put("b1", instance.apply("b1"));
    List<Thread> callers = new ArrayList<>();
    for (int c = 0; c < 4; c++) {
      Thread t = new Thread(() -> {
        while (loading.get()) {
          String closingAtStart = closing.get();
          try {
            Reply<EchoResponse> r = client.exchange(echo, "work", text("w"), EchoResponse.class,
                CallOptions.timeout(Duration.ofSeconds(60))).get(90, TimeUnit.SECONDS);
            servedBy.computeIfAbsent(r.instance(), k -> new AtomicInteger()).incrementAndGet();
            if (closingAtStart != null && closingAtStart.equals(closing.get())) {
              servedWithinAClose.incrementAndGet();
            }
          } catch (Exception e) {
            errors.add(e.toString());
          }
        }
      }, "caller-" + c);
      t.start();
      callers.add(t);
    }
    try {
      await().atMost(Duration.ofSeconds(30)).until(() -> served(servedBy, "a1") >= 5 && served(servedBy, "b1") >= 5);
      for (String[] step : new String[][] {{"a1", "a2"}, {"b1", "b2"}}) {
        String old = step[0];
        String replacement = step[1];
        running.put(replacement, instance.apply(replacement));
        await().atMost(Duration.ofSeconds(30)).until(() -> served(servedBy, replacement) >= 5);
        Hold hold = holds.get(old);
        hold.armed().set(true);
        assertThat(hold.held().await(30, TimeUnit.SECONDS)).as("a call held on " + old).isTrue();
        Server leaving = running.remove(old);
        CompletableFuture<Void> closed = CompletableFuture.runAsync(leaving::close);
        await().atMost(Duration.ofSeconds(30)).until(() -> announced.stopping().contains(old));
        closing.set(old);
        int before = servedWithinAClose.get();
        await().atMost(Duration.ofSeconds(30)).until(() -> servedWithinAClose.get() >= before + 10);
        assertThat(closed).as(old + " drains the call it holds").isNotDone();
        closing.set(null);
        hold.release().countDown();
        closed.get(60, TimeUnit.SECONDS);
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> served(servedBy, "b2") >= 10);
    } finally {
      loading.set(false);
      holds.values().forEach(h -> h.release().countDown());
      for (Thread t : callers) {
        t.join(120_000);
      }
    }
    assertThat(errors).as("calls that failed").isEmpty();
    assertThat(servedBy.keySet()).containsExactlyInAnyOrder("a1", "b1", "a2", "b2");
    assertThat(servedWithinAClose.get()).as("calls started and answered while an instance was closing").isGreaterThanOrEqualTo(20);
  }

  private static int served(Map<String, AtomicInteger> servedBy, String instance) {
    AtomicInteger n = servedBy.get(instance);
    return n == null ? 0 : n.get();
  }

  @Test
  void closeHandsTheRequestsItHadNotStartedToAnotherInstanceWhichRunsEachOnce() throws Exception {
    // An instance holding more requests than it runs (one handler, prefetch 5) is closed while its
    // handler is busy: the four it had taken but not started go back as fresh messages and another
    // instance serves them (not answered UNAVAILABLE, and not UNKNOWN_OUTCOME, which a redelivered request
    // to an endpoint that is not idempotent would get), each once; the running one finishes where it is.
    Map<String, List<String>> ranOn = new java.util.concurrent.ConcurrentHashMap<>();
    java.util.function.Function<String, java.util.function.Consumer<ServerBuilder>> instance = id -> b -> b.instanceId(id)
        .concurrency(1).prefetch(5).drainGrace(Duration.ofSeconds(60))
        .endpoint(Endpoint.of("once", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          ranOn.computeIfAbsent(ctx.requestId(), k -> java.util.Collections.synchronizedList(new ArrayList<>())).add(id);
          if (id.equals("old")) {
            atGate(false);
          }
          return EchoResponse.newBuilder().setText(req.getText()).build();
        }));
    Server old = startEcho(instance.apply("old"));
    List<CompletableFuture<Reply<EchoResponse>>> calls = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      calls.add(client.exchange(echo, "once", text("r" + i), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60))));
    }
    // one runs, four wait in the server
    await().atMost(Duration.ofSeconds(30)).until(() -> atGate.get() == 1 && gauge(old, "skiff.server.in-flight") == 5);
    assertThat(gauge(old, "skiff.server.queued")).isEqualTo(4);
    startEcho(instance.apply("new"));
    CompletableFuture<Void> closed = CompletableFuture.runAsync(old::close);
    await().atMost(Duration.ofSeconds(30)).until(() -> ranOn.values().stream().filter(l -> l.contains("new")).count() == 4);
    assertThat(closed).as("the old instance still drains its running request").isNotDone();
    gate.countDown();
    closed.get(60, TimeUnit.SECONDS);
    Map<String, Integer> answeredBy = new java.util.TreeMap<>();
    for (CompletableFuture<Reply<EchoResponse>> c : calls) {
      answeredBy.merge(c.get(60, TimeUnit.SECONDS).instance(), 1, Integer::sum);
    }
    assertThat(answeredBy).isEqualTo(Map.of("old", 1, "new", 4));
    assertThat(ranOn).hasSize(5).allSatisfy((id, instances) -> assertThat(instances).as("ran once").hasSize(1));
  }

  @Test
  void startTwiceIsRefusedAndCloseIsIdempotent() {
    Server s = startEcho(b -> {});
    assertThatThrownBy(s::start).isInstanceOf(IllegalStateException.class).hasMessage("server " + echo + " was already started");
    assertThat(client.call(echo, "echo", text("still serving"), EchoResponse.class).getText())
        .as("the refused start changed nothing").isEqualTo("still serving");
    int runs = handlerRuns.get();
    s.close();
    assertThat(s.isClosed()).isTrue();
    s.close();
    assertThat(s.isClosed()).as("closed twice, still closed").isTrue();
    assertThatThrownBy(s::start).isInstanceOf(IllegalStateException.class);
    // a closed server serves no more: the call is refused (no instance, in process) or waits unserved
    // in the service's queue until its timeout (over RabbitMQ)
    assertThatThrownBy(() -> client.call(echo, "echo", text("anyone?"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(1))))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isIn(ErrorCode.NOT_FOUND, ErrorCode.TIMEOUT));
    assertThat(handlerRuns.get()).as("no handler ran after close").isEqualTo(runs);
  }

  @Test
  void idempotentEndpointIsRetriedOnTransientErrorsWithTheSameRequestId() {
    startEcho(b -> {});
    EchoResponse r = client.call(echo, "flaky", flakyFor(2, ErrorCode.UNAVAILABLE), EchoResponse.class);
    assertThat(r.getText()).isEqualTo("ok after 3");
    assertThat(flakyRuns).hasSize(3).containsOnly(r.getRequestId());
    assertThat(client.metrics().counter("skiff.client.retries").getCount()).isEqualTo(2);
  }

  @Test
  void nonIdempotentEndpointIsNeverRetried() {
    startEcho(b -> {});
    assertThatThrownBy(() -> client.call(echo, "flaky-once", flakyFor(2, ErrorCode.UNAVAILABLE), EchoResponse.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
    assertThat(flakyRuns).hasSize(1);
    assertThat(client.metrics().counter("skiff.client.retries").getCount()).isZero();
  }

  @Test
  void nonRetryableErrorsAreNotRetried() {
    startEcho(b -> {});
    assertThatThrownBy(() -> client.call(echo, "flaky", flakyFor(2, ErrorCode.CONFLICT), EchoResponse.class))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CONFLICT));
    assertThat(flakyRuns).hasSize(1);
  }

  @Test
  void retriesStayWithinTheCallsDeadline() {
    startEcho(b -> {});
    List<dev.skiff.platform.observe.ClientEvent> attempts = java.util.Collections.synchronizedList(new ArrayList<>());
    try (Client patient =
        Client.builder().transport(transport).retryPolicy(
            dev.skiff.platform.client.RetryPolicy.defaults().withMaxAttempts(50).withBackoff(Duration.ofMillis(40), Duration.ofMillis(80)))
            .circuitBreaker(null).observer(new dev.skiff.platform.observe.RpcObserver() {
              @Override
              public void onClientAttempt(dev.skiff.platform.observe.ClientEvent e) {
                attempts.add(e);
              }
            }).build()) {
      assertThatThrownBy(
              () -> patient.call(echo, "flaky", flakyFor(1000, ErrorCode.UNAVAILABLE), EchoResponse.class,
                  CallOptions.timeout(Duration.ofMillis(400))))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isIn(ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT));
      // 50 attempts were allowed, but each retry waits at least 20 ms (half of 40 ms) and must be planned
      // to start at least 10 ms before the deadline: in 400 ms at most 1 + 390 / 20 attempts, however
      // fast or slow the machine. The last one says it is not retried.
      assertThat(attempts).hasSizeBetween(1, 20);
      assertThat(flakyRuns.size()).isBetween(1, attempts.size());
      assertThat(attempts.get(attempts.size() - 1).retrying()).isFalse();
      assertThat(attempts.subList(0, attempts.size() - 1)).allSatisfy(a -> assertThat(a.retrying()).isTrue());
    }
  }

  /**
   * An idempotent endpoint that fails the first {@code sleep_ms} runs of each request id with
   * UNAVAILABLE, and records when each run started.
   */
  private Endpoint<EchoRequest, EchoResponse> failingFirst(Map<String, List<Long>> runStarts) {
    return Endpoint.of("fail-first", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
      List<Long> runs = runStarts.computeIfAbsent(ctx.requestId(), k -> java.util.Collections.synchronizedList(new ArrayList<>()));
      runs.add(System.nanoTime());
      if (runs.size() <= req.getSleepMs()) {
        throw new SkiffException(ErrorCode.UNAVAILABLE, "failure " + runs.size());
      }
      return EchoResponse.newBuilder().setText("ok after " + runs.size()).build();
    }).asIdempotent();
  }

  /**
   * Calls fail-first {@code calls} times at once, each failing {@code failures} times, with a timeout of
   * {@code timeoutMillis} on a client whose clock stands still (an hour ahead, so that servers never
   * find the deadline passed): the client then retries exactly when the drawn backoff plus 10 ms is
   * under the timeout, whatever the speed of the machine, which shows the delays it draws.
   *
   * @return how many runs each call had
   */
  private List<Integer> runsPerCallOnAStoppedClock(Map<String, List<Long>> runStarts, int calls, int failures, long timeoutMillis)
      throws Exception {
    java.time.Clock stopped = java.time.Clock.fixed(java.time.Instant.now().plus(Duration.ofHours(1)), java.time.ZoneOffset.UTC);
    runStarts.clear();
    try (Client c = Client.builder().transport(transport).clock(stopped).circuitBreaker(null).build()) {
      List<CompletableFuture<Reply<EchoResponse>>> futures = new ArrayList<>();
      for (int i = 0; i < calls; i++) {
        futures.add(c.exchange(echo, "fail-first", EchoRequest.newBuilder().setSleepMs(failures).build(), EchoResponse.class,
            CallOptions.timeout(Duration.ofMillis(timeoutMillis))));
      }
      List<Integer> runs = new ArrayList<>();
      for (CompletableFuture<Reply<EchoResponse>> f : futures) {
        int n;
        try {
          Reply<EchoResponse> reply = f.get(60, TimeUnit.SECONDS);
          n = runStarts.get(reply.requestId()).size();
          assertThat(reply.value().getText()).isEqualTo("ok after " + n);
          assertThat(n).isEqualTo(failures + 1);
        } catch (java.util.concurrent.ExecutionException e) {
          SkiffException se = SkiffException.of(e);
          assertThat(se.code()).isEqualTo(ErrorCode.UNAVAILABLE);
          n = runStarts.get(se.requestId()).size();
          assertThat(se.description()).isEqualTo("failure " + n);
        }
        runs.add(n);
      }
      return runs;
    }
  }

  @Test
  void retryBackoffIsDrawnBetweenHalfAndOneAndAHalfTimesItsNominalDelayWhichDoubles() throws Exception {
    // the default policy: 3 attempts, 50 ms before the second (drawn from 25 to 75 ms), 100 ms before
    // the third (50 to 150 ms)
    Map<String, List<Long>> runStarts = new java.util.concurrent.ConcurrentHashMap<>();
    startEcho(b -> b.endpoint(failingFirst(runStarts)));
    // no delay is drawn under 25 ms: with 34 ms (24 + 10) no call is retried
    assertThat(runsPerCallOnAStoppedClock(runStarts, 200, 1, 34)).containsOnly(1);
    // none over 75 ms: with 86 ms every call is retried
    assertThat(runsPerCallOnAStoppedClock(runStarts, 200, 1, 86)).containsOnly(2);
    // drawn at random: with 60 ms, the calls whose delay came under 50 ms are retried, about half
    List<Integer> half = runsPerCallOnAStoppedClock(runStarts, 200, 1, 60);
    assertThat(half).containsOnly(1, 2);
    assertThat(half.stream().filter(n -> n == 2).count()).as("retried of 200").isBetween(50L, 150L);
    // the second delay doubles: from 50 ms, so with 60 ms a call retried once is never retried again
    List<Integer> twice = runsPerCallOnAStoppedClock(runStarts, 200, 2, 60);
    assertThat(twice).containsOnly(1, 2).contains(2);
    // and at most 150 ms: with 161 ms every call gets its three attempts
    assertThat(runsPerCallOnAStoppedClock(runStarts, 50, 2, 161)).containsOnly(3);
    // the client waited before each retry: at least half the nominal delay between the runs' starts
    assertThat(runStarts.values()).allSatisfy(starts -> {
      assertThat(Duration.ofNanos(starts.get(1) - starts.get(0))).isGreaterThanOrEqualTo(Duration.ofMillis(25));
      assertThat(Duration.ofNanos(starts.get(2) - starts.get(1))).isGreaterThanOrEqualTo(Duration.ofMillis(50));
    });
  }

  @Test
  void aCallIsRetriedOnEveryTransientCodeUpToItsAttemptsAndAsTheCallerDeclares() {
    Server s = startEcho(b -> {});
    // the default retry policy, and no circuit breaker (a dozen failures would open it)
    try (Client retrying = Client.builder().transport(transport).circuitBreaker(null).build()) {
      for (ErrorCode transient_ : List.of(ErrorCode.UNAVAILABLE, ErrorCode.CAPACITY)) {
        flakyRuns.clear();
        assertThat(retrying.call(echo, "flaky", flakyFor(2, transient_), EchoResponse.class).getText()).as(transient_.name()).isEqualTo("ok after 3");
      }
      // UNKNOWN_OUTCOME is retried too; but the instance keeps that answer (it keeps every answer that is
      // not itself transient), so retries that reach it again get the same answer from its cache
      flakyRuns.clear();
      long retries = retrying.metrics().counter("skiff.client.retries").getCount();
      assertThatThrownBy(() -> retrying.call(echo, "flaky", flakyFor(2, ErrorCode.UNKNOWN_OUTCOME), EchoResponse.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_OUTCOME);
            assertThat(e.context()).containsEntry("attempts", "3");
          });
      assertThat(retrying.metrics().counter("skiff.client.retries").getCount()).isEqualTo(retries + 2);
      assertThat(flakyRuns).hasSize(1);
      // the server counts a hit after its cached answer has left: the reply may come first
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
          assertThat(s.metrics().counter("skiff.server.dedupe-hits").getCount()).isEqualTo(2));
      // the default policy gives up after three attempts, with the last attempt's error
      flakyRuns.clear();
      assertThatThrownBy(() -> retrying.call(echo, "flaky", flakyFor(3, ErrorCode.UNAVAILABLE), EchoResponse.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
            assertThat(e.description()).isEqualTo("flaky failure 3");
            assertThat(e.context()).containsEntry("attempts", "3");
          });
      assertThat(flakyRuns).hasSize(3);
      // the caller may declare an endpoint idempotent, or not, whatever the service says
      flakyRuns.clear();
      assertThat(retrying.call(echo, "flaky-once", flakyFor(1, ErrorCode.UNAVAILABLE), EchoResponse.class,
          CallOptions.defaults().withIdempotent(true)).getText()).isEqualTo("ok after 2");
      flakyRuns.clear();
      assertThatThrownBy(() -> retrying.call(echo, "flaky", flakyFor(1, ErrorCode.UNAVAILABLE), EchoResponse.class,
          CallOptions.defaults().withIdempotent(false)))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
      assertThat(flakyRuns).hasSize(1);
    }
  }

  @Test
  void anAttemptThatTimesOutWithTimeLeftInTheCallIsRetried() {
    // the first run of the handler is stuck past the attempt's own timeout (1 s of the call's 60 s); a
    // retry runs it again and is answered. (A retry that reaches the server while the stuck run is still
    // within its deadline waits for it, by request id, and gets its TIMEOUT: then the next one runs.)
    AtomicInteger runs = new AtomicInteger();
    startEcho(b -> b.endpoint(Endpoint.of("slow-first", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
      int run = runs.incrementAndGet();
      if (req.getText().equals("hold") && run == 2) {
        atGate(true);
      }
      return EchoResponse.newBuilder().setText(req.getText() + " in run " + run).build();
    }).asIdempotent()));
    try (Client c = Client.builder().transport(transport).circuitBreaker(null)
        .retryPolicy(dev.skiff.platform.client.RetryPolicy.defaults().withPerAttemptTimeout(Duration.ofSeconds(1))).build()) {
      // the client learns from a reply that the endpoint is idempotent
      assertThat(c.call(echo, "slow-first", text("learn"), EchoResponse.class).getText()).isEqualTo("learn in run 1");
      assertThat(c.call(echo, "slow-first", text("hold"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60))).getText())
          .isEqualTo("hold in run 3");
      assertThat(atGate.get()).as("the first run is still stuck").isEqualTo(1);
      assertThat(c.metrics().counter("skiff.client.retries").getCount()).isBetween(1L, 2L);
    }
  }

  @Test
  void aRequestIdAlreadyAnsweredIsAnsweredFromTheCacheWithoutRunningTheHandlerAgain() {
    Server s = startEcho(b -> {});
    CallOptions same = CallOptions.defaults().withRequestId("0123456789abcdef0123456789abcdef");
    EchoResponse first = client.call(echo, "flaky-once", flakyFor(0, ErrorCode.UNAVAILABLE), EchoResponse.class, same);
    EchoResponse second = client.call(echo, "flaky-once", flakyFor(0, ErrorCode.UNAVAILABLE), EchoResponse.class, same);
    assertThat(second).isEqualTo(first);
    assertThat(flakyRuns).as("the handler ran once").hasSize(1);
    assertThat(s.metrics().counter("skiff.server.dedupe-hits").getCount()).isEqualTo(1);
  }

  /**
   * A retry that times out had only what was left of the call's time: its TIMEOUT says so, with the call's
   * timeout, where "within 700 ms" alone read as a call given 700 ms.
   */
  @Test
  void aRetryThatTimesOutNamesTheCallsTimeoutBesideItsOwnWindow() {
    AtomicInteger runs = new AtomicInteger();
    startEcho(b -> b.endpoint(Endpoint.of("fails-then-waits", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
      if (runs.incrementAndGet() == 1) {
        throw new SkiffException(ErrorCode.UNAVAILABLE, "first run fails");
      }
      atGate(false);
      return EchoResponse.getDefaultInstance();
    }).asIdempotent()));
    try {
      assertThatThrownBy(() -> client.call(echo, "fails-then-waits", text(""), EchoResponse.class, CallOptions.timeout(Duration.ofMillis(1500))))
          .isInstanceOfSatisfying(SkiffException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT);
            assertThat(e.context()).containsEntry("attempts", "2");
            assertThat(e.description()).matches("no reply from " + java.util.regex.Pattern.quote(echo)
                + "/fails-then-waits within \\d+ ms to this attempt \\(the call's timeout: 1500 ms\\)");
          });
      // a first attempt's TIMEOUT names its window alone: the call's timeout, less the moment before it was sent
      assertThatThrownBy(() -> client.call(echo, "echo", EchoRequest.newBuilder().setFail("gate").build(), EchoResponse.class,
              CallOptions.timeout(Duration.ofMillis(300))))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.description()).matches(".*/echo within \\d+ ms"));
    } finally {
      gate.countDown();
    }
  }

  @Test
  void aDuplicateArrivingWhileTheFirstRunsWaitsForItsAnswer() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    Server s = startEcho(b -> b.endpoint("slow-once", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
      int run = runs.incrementAndGet();
      atGate(false);
      return EchoResponse.newBuilder().setText("run " + run).build();
    }));
    CallOptions same = CallOptions.timeout(Duration.ofSeconds(60)).withRequestId("fedcba9876543210fedcba9876543210");
    CompletableFuture<EchoResponse> a = client.callAsync(echo, "slow-once", text(""), EchoResponse.class, same);
    await().atMost(Duration.ofSeconds(30)).until(() -> atGate.get() == 1);
    CompletableFuture<EchoResponse> b = client.callAsync(echo, "slow-once", text(""), EchoResponse.class, same);
    // the duplicate has reached the server while the first still runs, and waits for it
    await().atMost(Duration.ofSeconds(30)).until(() -> s.metrics().counter("skiff.server.dedupe-hits").getCount() == 1);
    assertThat(b).isNotDone();
    gate.countDown();
    assertThat(a.get(60, TimeUnit.SECONDS).getText()).isEqualTo("run 1");
    assertThat(b.get(60, TimeUnit.SECONDS).getText()).isEqualTo("run 1");
    assertThat(runs.get()).isEqualTo(1);
  }

  @Test
  void circuitBreakerOpensOnSustainedFailuresAndClosesWhenTheServiceRecovers() {
    startEcho(b -> {});
    dev.skiff.platform.client.BreakerOptions quick =
        dev.skiff.platform.client.BreakerOptions.defaults().withWindow(Duration.ofMinutes(1), 10).withOpenFor(Duration.ofMillis(300));
    try (Client guarded = Client.builder().transport(transport).circuitBreaker(quick).retryPolicy(dev.skiff.platform.client.RetryPolicy.none()).build()) {
      EchoRequest failing = flakyFor(10, ErrorCode.INTERNAL);
      for (int i = 0; i < 10; i++) {
        assertThatThrownBy(() -> guarded.call(echo, "flaky", failing, EchoResponse.class))
            .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL));
      }
      int runsWhenOpened = flakyRuns.size();
      // refused at once: the call's future has failed before the call returns, with a minute left
      CompletableFuture<EchoResponse> refused = guarded.callAsync(echo, "flaky", failing, EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60)));
      assertThat(refused).isCompletedExceptionally();
      assertThatThrownBy(refused::join)
          .cause()
          .isInstanceOfSatisfying(SkiffException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.CIRCUIT_OPEN);
            assertThat(e.description()).contains(echo + "/flaky");
          });
      assertThat(flakyRuns).as("nothing was sent while open").hasSize(runsWhenOpened);
      await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(100)).ignoreExceptionsInstanceOf(SkiffException.class).untilAsserted(() ->
          assertThat(guarded.call(echo, "flaky", failing, EchoResponse.class).getText()).startsWith("ok after"));
      for (int i = 0; i < 5; i++) {
        assertThat(guarded.call(echo, "flaky", failing, EchoResponse.class).getText()).startsWith("ok after");
      }
    }
  }

  /**
   * A client with the default circuit breaker but a window of a minute that may open after 10 calls (so
   * that a test needs few calls and no clock), a shorter wait while open, and no retries.
   */
  private Client guardedClient(Duration waitWhileOpen) {
    dev.skiff.platform.client.BreakerOptions config =
        dev.skiff.platform.client.BreakerOptions.defaults().withWindow(Duration.ofMinutes(1), 10).withOpenFor(waitWhileOpen);
    return Client.builder().transport(transport).circuitBreaker(config).retryPolicy(dev.skiff.platform.client.RetryPolicy.none()).build();
  }

  private static EchoRequest failWith(ErrorCode code) {
    return EchoRequest.newBuilder().setFail(code.name()).build();
  }

  /** Calls echo, expecting the handler's answer: it must have been sent, not refused by the breaker. */
  private static void assertAnswered(Client c, String service, EchoRequest req) {
    if (req.getFail().isEmpty()) {
      assertThat(c.call(service, "echo", req, EchoResponse.class).getText()).isEqualTo(req.getText());
    } else {
      assertThatThrownBy(() -> c.call(service, "echo", req, EchoResponse.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.valueOf(req.getFail())));
    }
  }

  /** Calls echo {@code times} times, each failing with {@code code} and answered, not refused by the breaker. */
  private static void assertAnsweredFailing(Client c, String service, ErrorCode code, int times) {
    for (int i = 0; i < times; i++) {
      assertAnswered(c, service, failWith(code));
    }
  }

  private static void assertRefusedByTheBreaker(Client c, String service, String endpoint) {
    CompletableFuture<EchoResponse> f = c.callAsync(service, endpoint, text("x"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60)));
    assertThat(f).as("refused at once").isCompletedExceptionally();
    assertThatThrownBy(f::join).cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CIRCUIT_OPEN));
  }

  @Test
  void theCircuitBreakerOpensWhenHalfOfTheCallsInItsWindowFailedAndNotBeforeItsMinimumOfCalls() {
    startEcho(b -> {});
    try (Client guarded = guardedClient(Duration.ofSeconds(60))) {
      // ten good calls, then nine failures: 9 of 19 is under half, and every call is still sent
      for (int i = 0; i < 10; i++) {
        assertAnswered(guarded, echo, text("ok" + i));
      }
      for (int i = 0; i < 9; i++) {
        assertAnswered(guarded, echo, failWith(ErrorCode.UNAVAILABLE));
      }
      // the tenth failure makes half of the last twenty: it opens
      assertAnswered(guarded, echo, failWith(ErrorCode.TIMEOUT));
      int runs = handlerRuns.get();
      assertRefusedByTheBreaker(guarded, echo, "echo");
      assertThat(handlerRuns.get()).as("nothing sent while open").isEqualTo(runs);
      assertThat(guarded.metrics().counter("skiff.client.circuit-open").getCount()).isEqualTo(1);
    }
    try (Client guarded = guardedClient(Duration.ofSeconds(60))) {
      // nine failures are too few calls to judge; the tenth opens it (10 of 10)
      assertAnsweredFailing(guarded, echo, ErrorCode.CAPACITY, 9);
      assertAnswered(guarded, echo, failWith(ErrorCode.INTERNAL));
      assertRefusedByTheBreaker(guarded, echo, "echo");
    }
  }

  @Test
  void failuresThatBlameNoServiceNeverOpenTheCircuitBreakerAndAreNotCounted() {
    startEcho(b -> {});
    try (Client guarded = guardedClient(Duration.ofSeconds(60))) {
      // UNKNOWN_OUTCOME says an instance went away with the request, not that the service is failing:
      // thirty of them, every one sent and answered
      assertAnsweredFailing(guarded, echo, ErrorCode.UNKNOWN_OUTCOME, 30);
      // nor are they counted as served: nine failures of the service are too few to judge (had the thirty
      // counted as served, ten failures of forty would never open it) ...
      assertAnsweredFailing(guarded, echo, ErrorCode.INTERNAL, 9);
      // ... and the tenth opens it: 10 of 10
      assertAnswered(guarded, echo, failWith(ErrorCode.INTERNAL));
      assertRefusedByTheBreaker(guarded, echo, "echo");
    }
  }

  @Test
  void callerErrorsNeverOpenTheCircuitBreaker() {
    startEcho(b -> {});
    try (Client guarded = guardedClient(Duration.ofSeconds(60))) {
      for (ErrorCode callersFault : List.of(ErrorCode.BAD_REQUEST, ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND,
          ErrorCode.CONFLICT)) {
        for (int i = 0; i < 20; i++) {
          assertAnswered(guarded, echo, failWith(callersFault));
        }
      }
      assertAnswered(guarded, echo, text("still closed"));
      assertThat(guarded.metrics().counter("skiff.client.circuit-open").getCount()).isZero();
    }
  }

  @Test
  void eachEndpointOfEachServiceHasACircuitBreakerOfItsOwn() {
    startEcho(b -> {});
    String other = echo + ".other";
    start(other, b -> {});
    try (Client guarded = guardedClient(Duration.ofSeconds(60))) {
      for (int i = 0; i < 10; i++) {
        assertAnswered(guarded, echo, failWith(ErrorCode.INTERNAL));
      }
      assertRefusedByTheBreaker(guarded, echo, "echo");
      // another endpoint of the same service, and the same endpoint of another service, are served
      assertThat(guarded.call(echo, "flaky", flakyFor(0, ErrorCode.UNAVAILABLE), EchoResponse.class).getText()).isEqualTo("ok after 1");
      assertAnswered(guarded, other, text("other service"));
      assertThat(gauge(guarded, "skiff.client.open-circuits")).isEqualTo(1);
    }
  }

  private static long gauge(Client c, String name) {
    return ((Number) c.metrics().getGauges().get(name).getValue()).longValue();
  }

  /** Opens the breaker of echo/echo, then calls until one is let through as a trial (it waits at the gate). */
  private CompletableFuture<EchoResponse> openAndAwaitTheFirstTrial(Client guarded, EchoRequest trial) {
    for (int i = 0; i < 10; i++) {
      assertAnswered(guarded, echo, failWith(ErrorCode.INTERNAL));
    }
    assertRefusedByTheBreaker(guarded, echo, "echo");
    List<CompletableFuture<EchoResponse>> first = new ArrayList<>();
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() -> {
      CompletableFuture<EchoResponse> f = guarded.callAsync(echo, "echo", trial, EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60)));
      if (f.isCompletedExceptionally() && SkiffException.of(f.handle((v, e) -> e).join()).code() == ErrorCode.CIRCUIT_OPEN) {
        return false;
      }
      first.add(f);
      return true;
    });
    return first.get(0);
  }

  @Test
  void anOpenCircuitBreakerLetsThreeTrialCallsThroughAndClosesWhenTheySucceed() throws Exception {
    startEcho(b -> {});
    try (Client guarded = guardedClient(Duration.ofMillis(300))) {
      List<CompletableFuture<EchoResponse>> trials = new ArrayList<>();
      trials.add(openAndAwaitTheFirstTrial(guarded, gated()));
      trials.add(guarded.callAsync(echo, "echo", gated(), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60))));
      trials.add(guarded.callAsync(echo, "echo", gated(), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60))));
      await().atMost(Duration.ofSeconds(30)).until(() -> atGate.get() == 3);
      // while three trials are out, a fourth call is refused
      int runs = handlerRuns.get();
      assertRefusedByTheBreaker(guarded, echo, "echo");
      assertThat(handlerRuns.get()).isEqualTo(runs);
      gate.countDown();
      for (CompletableFuture<EchoResponse> t : trials) {
        assertThat(t.get(60, TimeUnit.SECONDS).getText()).isEmpty();
      }
      // closed again: calls go through
      for (int i = 0; i < 10; i++) {
        assertAnswered(guarded, echo, text("closed " + i));
      }
      assertThat(gauge(guarded, "skiff.client.open-circuits")).isZero();
    }
  }

  @Test
  void failingTrialCallsOpenTheCircuitBreakerAgain() throws Exception {
    startEcho(b -> {});
    try (Client guarded = guardedClient(Duration.ofSeconds(1))) {
      CompletableFuture<EchoResponse> first = openAndAwaitTheFirstTrial(guarded, failWith(ErrorCode.UNAVAILABLE));
      assertThatThrownBy(() -> first.get(60, TimeUnit.SECONDS)).cause()
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
      assertAnswered(guarded, echo, failWith(ErrorCode.INTERNAL));
      assertAnswered(guarded, echo, failWith(ErrorCode.TIMEOUT));
      // three trials failed: open again, refusing without sending
      assertThat(gauge(guarded, "skiff.client.open-circuits")).isEqualTo(1);
      int runs = handlerRuns.get();
      assertRefusedByTheBreaker(guarded, echo, "echo");
      assertThat(handlerRuns.get()).isEqualTo(runs);
    }
  }

  @Test
  void aClientBoundsItsCallsInFlight() {
    startEcho(b -> b.concurrency(4));
    try (Client small = Client.builder().transport(transport).maxInFlight(5).build()) {
      List<CompletableFuture<EchoResponse>> calls = new ArrayList<>();
      // none can finish until all twelve are made: five are in flight, seven refused
      for (int i = 0; i < 12; i++) {
        calls.add(small.callAsync(echo, "echo", gated(), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60))));
      }
      assertThat(calls.stream().filter(CompletableFuture::isCompletedExceptionally).count()).as("refused at once").isEqualTo(7);
      gate.countDown();
      long capacity = calls.stream().filter(f -> {
        try {
          f.join();
          return false;
        } catch (RuntimeException e) {
          return SkiffException.of(e).code() == ErrorCode.CAPACITY;
        }
      }).count();
      assertThat(capacity).isEqualTo(7);
      assertThat(small.metrics().gauge("skiff.client.in-flight", () -> () -> -1).getValue()).isEqualTo(0L);
    }
  }

  /** An observer that keeps every event it is told of. */
  private static final class Recorder implements dev.skiff.platform.observe.RpcObserver {
    final List<dev.skiff.platform.observe.ServerEvent> serverEvents = java.util.Collections.synchronizedList(new ArrayList<>());
    final List<dev.skiff.platform.observe.ClientEvent> clientEvents = java.util.Collections.synchronizedList(new ArrayList<>());

    @Override
    public void onServerRequest(dev.skiff.platform.observe.ServerEvent e) {
      serverEvents.add(e);
    }

    @Override
    public void onClientAttempt(dev.skiff.platform.observe.ClientEvent e) {
      clientEvents.add(e);
    }
  }

  @Test
  void observersSeeEveryAttemptAndRequestAsOneTrace() {
    Recorder recorder = new Recorder();
    List<dev.skiff.platform.observe.ServerEvent> serverEvents = recorder.serverEvents;
    List<dev.skiff.platform.observe.ClientEvent> clientEvents = recorder.clientEvents;
    startEcho(b -> b.observer(recorder));
    String outer = echo + ".outer";
    start(outer, b -> b.observer(recorder));
    try (Client traced = Client.builder().transport(transport).name("test.caller").observer(recorder).build()) {
      Reply<EchoResponse> r = Client.await(traced.exchange(outer, "relay", EchoRequest.newBuilder().setText(echo).build(),
          EchoResponse.class, CallOptions.defaults().withTrace(true)));
      await().atMost(Duration.ofSeconds(2)).until(() -> serverEvents.size() == 2 && clientEvents.size() == 2);
      String trace = r.traceId();
      assertThat(clientEvents).allSatisfy(e -> {
        assertThat(e.traceId()).isEqualTo(trace);
        assertThat(e.sampled()).isTrue();
        assertThat(e.error()).isNull();
      });
      assertThat(serverEvents).allSatisfy(e -> {
        assertThat(e.traceId()).isEqualTo(trace);
        assertThat(e.handlerRan()).isTrue();
      });
      var rootCall = clientEvents.stream().filter(e -> e.service().equals(outer)).findFirst().orElseThrow();
      var outerServed = serverEvents.stream().filter(e -> e.service().equals(outer)).findFirst().orElseThrow();
      var innerCall = clientEvents.stream().filter(e -> e.service().equals(echo)).findFirst().orElseThrow();
      var innerServed = serverEvents.stream().filter(e -> e.service().equals(echo)).findFirst().orElseThrow();
      assertThat(rootCall.parentSpanId()).isEmpty();
      assertThat(outerServed.parentSpanId()).isEqualTo(rootCall.spanId());
      assertThat(innerCall.parentSpanId()).isEqualTo(outerServed.spanId());
      assertThat(innerCall.fromService()).isEqualTo(outer);
      assertThat(innerServed.parentSpanId()).isEqualTo(innerCall.spanId());
      assertThat(outerServed.durationNanos()).isGreaterThanOrEqualTo(innerServed.durationNanos());
    }
  }

  @Test
  void observersSeeErrorsRetriesAndRefusals() {
    Recorder recorder = new Recorder();
    List<dev.skiff.platform.observe.ServerEvent> serverEvents = recorder.serverEvents;
    List<dev.skiff.platform.observe.ClientEvent> clientEvents = recorder.clientEvents;
    startEcho(b -> b.observer(recorder));
    try (Client c = Client.builder().transport(transport).observer(recorder).build()) {
      c.call(echo, "flaky", flakyFor(1, ErrorCode.UNAVAILABLE), EchoResponse.class);
      assertThatThrownBy(() -> c.call(echo, "nope", text(""), EchoResponse.class)).isInstanceOf(SkiffException.class);
      await().atMost(Duration.ofSeconds(2)).until(() -> clientEvents.size() == 3 && serverEvents.size() == 3);
      assertThat(clientEvents.get(0).attempt()).isEqualTo(1);
      assertThat(clientEvents.get(0).error()).isEqualTo(ErrorCode.UNAVAILABLE);
      assertThat(clientEvents.get(0).retrying()).isTrue();
      assertThat(clientEvents.get(1).attempt()).isEqualTo(2);
      assertThat(clientEvents.get(1).error()).isNull();
      assertThat(clientEvents.get(1).requestId()).isEqualTo(clientEvents.get(0).requestId());
      assertThat(clientEvents.get(1).spanId()).isNotEqualTo(clientEvents.get(0).spanId());
      assertThat(serverEvents).filteredOn(e -> e.endpoint().equals("nope")).singleElement().satisfies(e -> {
        assertThat(e.error()).isEqualTo(ErrorCode.NOT_FOUND);
        assertThat(e.handlerRan()).isFalse();
      });
    }
  }

  @Test
  void eventsReachEverySubscriberOfAMatchingPatternAndGroupsShareThem() throws Exception {
    dev.skiff.platform.pubsub.PubSub bus = new dev.skiff.platform.pubsub.PubSub(transport);
    List<String> all = java.util.Collections.synchronizedList(new ArrayList<>());
    List<String> onlyHealth = java.util.Collections.synchronizedList(new ArrayList<>());
    List<String> groupA = java.util.Collections.synchronizedList(new ArrayList<>());
    List<String> groupB = java.util.Collections.synchronizedList(new ArrayList<>());
    String prefix = "test" + System.nanoTime() % 100000;
    List<dev.skiff.platform.transport.Transport.Subscription> subs = List.of(
        bus.subscribe(prefix + ".#", null, EchoRequest.class, (t, e) -> all.add(t + "=" + e.getText())),
        bus.subscribe(prefix + ".health.*", null, EchoRequest.class, (t, e) -> onlyHealth.add(e.getText())),
        bus.subscribe(prefix + ".work", "workers-" + prefix, EchoRequest.class, (t, e) -> groupA.add(e.getText())),
        bus.subscribe(prefix + ".work", "workers-" + prefix, EchoRequest.class, (t, e) -> groupB.add(e.getText())));
    try {
      // a probe on each pattern until every subscription has one: then all are bound
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() -> {
        bus.publish(prefix + ".health.probe", text("probe"));
        bus.publish(prefix + ".work", text("probe"));
        return all.contains(prefix + ".health.probe=probe") && onlyHealth.contains("probe")
            && groupA.contains("probe") && groupB.contains("probe");
      });
      all.clear();
      onlyHealth.clear();
      groupA.clear();
      groupB.clear();
      bus.publish(prefix + ".health.svc", text("h1"));
      bus.publish(prefix + ".health.svc.deeper", text("h2"));
      for (int i = 0; i < 10; i++) {
        bus.publish(prefix + ".work", text("w" + i));
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> all.contains(prefix + ".work=w9") && groupA.size() + groupB.size() >= 10);
      // probes still on their way are not counted
      all.removeIf(e -> e.endsWith("=probe"));
      onlyHealth.removeIf(e -> e.equals("probe"));
      groupA.removeIf(e -> e.equals("probe"));
      groupB.removeIf(e -> e.equals("probe"));
      assertThat(all).hasSize(12);
      assertThat(groupA.size() + groupB.size()).isEqualTo(10);
      assertThat(onlyHealth).containsExactly("h1");
      assertThat(all).contains(prefix + ".health.svc.deeper=h2");
      assertThat(groupA).isNotEmpty();
      assertThat(groupB).isNotEmpty();
    } finally {
      subs.forEach(dev.skiff.platform.transport.Transport.Subscription::close);
    }
  }

  @Test
  void aServerThatCannotStartSaysWhyAndClosesCleanly() {
    Transport closed = newTransport();
    closed.close();
    Server s = Server.builder("test.unstartable").transport(closed)
        .endpoint(Endpoint.of("echo", EchoRequest.class, EchoResponse.class, this::echo)).build();
    assertThatThrownBy(s::start).isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
    assertThat(s.isClosed()).isTrue();
    s.close();
  }

  /** The options of outlier ejection for tests: judged over 3 s from 10 requests, out for 1 s. */
  protected static final dev.skiff.platform.server.OutlierOptions QUICK_OUTLIERS = dev.skiff.platform.server.OutlierOptions.defaults()
      .withWindow(Duration.ofSeconds(3)).withMinimumRequests(10).withEjectFor(Duration.ofSeconds(1), Duration.ofSeconds(1));

  /** Starts an instance of the echo service with quick outlier ejection and health reports, failing "work" while {@code broken}. */
  private Server outlierInstance(String id, java.util.concurrent.atomic.AtomicBoolean broken) {
    return startEcho(b -> b.instanceId(id)
        .outlierEjection(QUICK_OUTLIERS)
        .monitoring(dev.skiff.platform.metrics.MonitoringOptions.defaults().withPublishInterval(Duration.ofMillis(200)))
        .endpoint(Endpoint.of("work", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          if (broken.get()) {
            throw new SkiffException(ErrorCode.INTERNAL, id + " is broken");
          }
          return EchoResponse.newBuilder().setText(id).build();
        }))
        .healthCheck("switch", new dev.skiff.platform.health.HealthCheck() {
          @Override
          public Duration interval() {
            return Duration.ofMillis(200);
          }

          @Override
          protected Result check() {
            return broken.get() ? Result.unhealthy("broken") : Result.healthy("fine");
          }
        }));
  }

  private static dev.skiff.platform.health.HealthCheck.Result rotationCheck(Server s) {
    return s.health().results().stream().filter(st -> st.name().equals("rotation")).findFirst().orElseThrow().result();
  }

  @Test
  void anInstanceThatKeepsFailingWhileItsPeersSucceedStepsAsideAndComesBackWhenHealthy() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean broken = new java.util.concurrent.atomic.AtomicBoolean(true);
    java.util.concurrent.atomic.AtomicBoolean fine = new java.util.concurrent.atomic.AtomicBoolean();
    Server bad = outlierInstance("bad", broken);
    outlierInstance("good1", fine);
    outlierInstance("good2", fine);
    // no circuit breaker: a third of the calls failing would open it
    Client caller = Client.builder().transport(transport).name("test.caller").circuitBreaker(null).build();
    toClose.register(caller);
    CallOptions patient = CallOptions.timeout(Duration.ofSeconds(30));
    AtomicInteger failedBefore = new AtomicInteger();
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(1)).until(() -> {
      try {
        caller.exchange(echo, "work", text("w"), EchoResponse.class, patient).get(60, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        failedBefore.incrementAndGet();
      }
      dev.skiff.platform.health.HealthCheck.Result r = rotationCheck(bad);
      return r != null && !r.healthy();
    });
    assertThat(failedBefore.get()).as("calls the broken instance failed before it stepped aside").isGreaterThanOrEqualTo(10);
    assertThat(rotationCheck(bad).message()).startsWith("out of rotation for 1 s: 100% of its ");
    assertThat(gauge(bad, "skiff.server.rotation.in")).isZero();
    assertThat(bad.metrics().counter("skiff.server.rotation.ejections").getCount()).isEqualTo(1);

    Map<String, AtomicInteger> servedBy = new java.util.concurrent.ConcurrentHashMap<>();
    List<String> errors = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      try {
        Reply<EchoResponse> r = caller.exchange(echo, "work", text("w"), EchoResponse.class, patient).get(60, TimeUnit.SECONDS);
        servedBy.computeIfAbsent(r.instance(), k -> new AtomicInteger()).incrementAndGet();
      } catch (java.util.concurrent.ExecutionException e) {
        errors.add(e.getCause().toString());
      }
    }
    assertThat(errors).as("calls that failed while the broken instance was out").isEmpty();
    assertThat(servedBy.keySet()).containsExactlyInAnyOrder("good1", "good2");
    assertThat(gauge(bad, "skiff.server.rotation.in")).as("still broken: still out").isZero();

    broken.set(false);
    await().atMost(Duration.ofSeconds(60)).until(() -> gauge(bad, "skiff.server.rotation.in") == 1);
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(1)).until(() ->
        caller.exchange(echo, "work", text("w"), EchoResponse.class, patient).get(60, TimeUnit.SECONDS).instance().equals("bad"));
    assertThat(bad.metrics().counter("skiff.server.rotation.ejections").getCount()).isEqualTo(1);
  }

  @Test
  void madeUpHealthReportsOnTheServicesTopicAreCountedAndBoundedAndEjectNoHealthyInstance() {
    Server s = outlierInstance("only", new java.util.concurrent.atomic.AtomicBoolean());
    String topic = "health." + echo;
    java.util.function.BiConsumer<String, Long> report = (instance, requests) -> transport.publish(topic,
        dev.skiff.platform.transport.ContentTypes.PROTOBUF,
        dev.skiff.proto.v1.HealthReport.newBuilder().setService(echo).setInstance(instance)
            .addEndpoints(dev.skiff.proto.v1.EndpointStats.newBuilder().setName("work").setSide("server")
                .setRequests(requests).putErrorsByCode("INTERNAL", requests).putErrorsByCode("TIMEOUT", -5))
            .build().toByteArray());
    transport.publish(topic, dev.skiff.platform.transport.ContentTypes.PROTOBUF, new byte[] {(byte) 0xff, 0x01, 0x02});
    transport.publish(topic, dev.skiff.platform.transport.ContentTypes.PROTOBUF,
        dev.skiff.proto.v1.HealthReport.newBuilder().setService(echo).build().toByteArray());
    transport.publish(topic, dev.skiff.platform.transport.ContentTypes.PROTOBUF,
        dev.skiff.proto.v1.HealthReport.newBuilder().setService("other.service").setInstance("x").build().toByteArray());
    for (int i = 0; i < 300; i++) {
      report.accept("fake-" + i, i % 2 == 0 ? 0 : Long.MAX_VALUE);
      report.accept("only", Long.MAX_VALUE); // its own id: ignored
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> s.metrics().counter("skiff.server.rotation.bad-reports").getCount() == 3
        && s.metrics().counter("skiff.server.rotation.peers-forgotten").getCount() == 300 - 256);
    for (int i = 0; i < 50; i++) {
      assertThat(client.call(echo, "work", text("w"), EchoResponse.class).getText()).isEqualTo("only");
    }
    assertThat(gauge(s, "skiff.server.rotation.in")).isEqualTo(1);
    assertThat(rotationCheck(s).healthy()).isTrue();
  }

  /** A bare binding of the echo service that answers every request with its instance id. */
  private Transport.ServerBinding bareBinding(String id, List<String> took) {
    Transport.ServerBinding b = transport.bind(echo, id, new Transport.BindOptions(4, 0), (req, delivery) -> {
      took.add(id);
      delivery.replyAndAck(new dev.skiff.platform.transport.ReplyMessage(req.correlationId(), true,
          dev.skiff.platform.transport.ContentTypes.PROTOBUF, echo, "1.0.0", id, false,
          EchoResponse.newBuilder().setText(id).build().toByteArray()));
    });
    toClose.register(b);
    return b;
  }

  @Test
  void aPausedBindingTakesNothingAndWhatNoInstanceTakesWaitsUntilOneResumes() throws Exception {
    List<String> took = java.util.Collections.synchronizedList(new ArrayList<>());
    Transport.ServerBinding a = bareBinding("a", took);
    Transport.ServerBinding b = bareBinding("b", took);
    CallOptions patient = CallOptions.timeout(Duration.ofSeconds(60));
    a.pause();
    a.pause();
    for (int i = 0; i < 10; i++) {
      assertThat(client.exchange(echo, "echo", text("x"), EchoResponse.class, patient).get(60, TimeUnit.SECONDS).instance()).isEqualTo("b");
    }
    b.pause();
    CompletableFuture<Reply<EchoResponse>> shared = client.exchange(echo, "echo", text("x"), EchoResponse.class, patient);
    CompletableFuture<Reply<EchoResponse>> toB =
        client.exchange(echo, "echo", text("x"), EchoResponse.class, patient.withInstance("b"));
    assertThat(shared).as("no instance takes requests: it waits").isNotDone();
    assertThat(toB).isNotDone();
    a.resume();
    a.resume();
    assertThat(shared.get(60, TimeUnit.SECONDS).instance()).isEqualTo("a");
    assertThat(toB).as("addressed to b, still paused").isNotDone();
    b.resume();
    assertThat(toB.get(60, TimeUnit.SECONDS).instance()).isEqualTo("b");
    assertThat(took).hasSize(12);
    // stopping and closing work after a pause and resume, and while paused
    a.stopConsuming();
    b.pause();
    b.stopConsuming();
    b.resume();
    assertThatThrownBy(() -> client.call(echo, "echo", text("x"), EchoResponse.class, CallOptions.timeout(Duration.ofMillis(300))))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isIn(ErrorCode.TIMEOUT, ErrorCode.NOT_FOUND));
    a.close();
    b.close();
    assertThat(took).as("nothing taken once stopped").hasSize(12);
  }
}
