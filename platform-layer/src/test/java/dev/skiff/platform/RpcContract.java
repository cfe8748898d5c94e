package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.FanOut;
import dev.skiff.platform.client.Reply;
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
import java.util.concurrent.CompletableFuture;
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
  protected final List<AutoCloseable> toClose = new ArrayList<>();
  protected String echo;
  protected final AtomicInteger handlerRuns = new AtomicInteger();

  protected abstract Transport newTransport();

  @BeforeEach
  void setUp() {
    transport = newTransport();
    client = Client.builder().transport(transport).name("test.caller").build();
    echo = "test.echo." + Integer.toHexString(System.identityHashCode(this)) + "." + System.nanoTime() % 100000;
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    client.close();
    transport.close();
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
    toClose.add(s);
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
      case "spin" -> {
        long until = System.nanoTime() + 1_500_000_000L;
        while (System.nanoTime() < until) {
          Thread.onSpinWait();
        }
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
            });
  }

  @Test
  void unknownServiceFailsAtOnceNotAtItsTimeout() {
    long t0 = System.nanoTime();
    assertThatThrownBy(
            () -> client.call("test.nobody.here", "echo", text("x"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(20))))
        .isInstanceOfSatisfying(
            SkiffException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND);
              assertThat(e.description()).contains("test.nobody.here");
            });
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void invalidNamesAreRefusedWithAClearError() {
    assertThatThrownBy(() -> client.call("bad name!", "echo", text("x"), EchoResponse.class))
        .isInstanceOfSatisfying(
            SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST));
    assertThatThrownBy(() -> Server.builder("Bad Name")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Bad Name");
  }

  @Test
  void callTimesOutAtItsTimeoutAndTheLateReplyIsCountedAndDropped() {
    startEcho(b -> {});
    long t0 = System.nanoTime();
    assertThatThrownBy(
            () -> client.call(echo, "echo", EchoRequest.newBuilder().setSleepMs(600).build(), EchoResponse.class,
                CallOptions.timeout(Duration.ofMillis(200))))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT));
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    assertThat(took).isBetween(Duration.ofMillis(190), Duration.ofMillis(1500));
    // the server overruns the deadline, answers TIMEOUT; that reply arrives after the caller gave up
    await().atMost(Duration.ofSeconds(5))
        .until(() -> client.metrics().counter("skiff.client.late-replies").getCount() >= 1);
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
        client.callAsync(echo, "echo", EchoRequest.newBuilder().setSleepMs(700).build(), EchoResponse.class);
    await().until(() -> handlerRuns.get() == 1);
    CompletableFuture<EchoResponse> doomed =
        client.callAsync(echo, "echo", text("late"), EchoResponse.class, CallOptions.timeout(Duration.ofMillis(150)));
    assertThat(slow.join().getText()).isEmpty();
    assertThatThrownBy(doomed::join).hasCauseInstanceOf(SkiffException.class);
    await().atMost(Duration.ofSeconds(3))
        .until(() -> s.metrics().counter("skiff.server.dropped-expired").getCount() == 1);
    assertThat(handlerRuns.get()).as("the expired request's handler never ran").isEqualTo(1);
  }

  @Test
  void fanOutRunsCallsInParallelAndKeepsEachError() {
    startEcho(b -> b.concurrency(16));
    client.call(echo, "echo", text("warm"), EchoResponse.class);
    FanOut fan = client.fanOut(16);
    List<FanOut.Pending<EchoResponse>> calls = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < 10; i++) {
      calls.add(fan.call(echo, "echo", EchoRequest.newBuilder().setText("n" + i).setSleepMs(50).build(), EchoResponse.class));
    }
    FanOut.Pending<EchoResponse> bad = fan.call(echo, "echo", EchoRequest.newBuilder().setFail("FORBIDDEN").build(), EchoResponse.class);
    FanOut.Result result = fan.awaitAll();
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    assertThat(took).as("ten 50 ms calls in parallel").isLessThan(Duration.ofMillis(300));
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
    // still get threads of their own within milliseconds, not wait for it: eight 300-ms calls in
    // parallel take about 300 ms, not 2.4 s; and once the endpoint is known to block, at once.
    Server s = startEcho(b -> b.concurrency(16));
    @SuppressWarnings("unchecked")
    com.codahale.metrics.Gauge<Integer> batched =
        (com.codahale.metrics.Gauge<Integer>) s.metrics().getGauges().get("skiff.server.endpoint.echo.batched");
    assertThat(batched.getValue()).as("a new endpoint's requests each wake a thread").isZero();
    // quick calls until the server batches them (a cold JVM's first runs are slow now and then)
    long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (batched.getValue() == 0 && System.nanoTime() < until) {
      FanOut warm = client.fanOut(4);
      for (int i = 0; i < 200; i++) {
        warm.call(echo, "echo", text("quick" + i), EchoResponse.class);
      }
      assertThat(warm.awaitAll().allSucceeded()).isTrue();
    }
    assertThat(batched.getValue()).as("quick runs earn the batching").isEqualTo(1);
    for (int round = 0; round < 2; round++) {
      FanOut fan = client.fanOut(16);
      long t0 = System.nanoTime();
      for (int i = 0; i < 8; i++) {
        fan.call(echo, "echo", EchoRequest.newBuilder().setSleepMs(300).build(), EchoResponse.class);
      }
      assertThat(fan.awaitAll().allSucceeded()).isTrue();
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("round " + round + ": eight 300-ms calls in parallel")
          .isLessThan(Duration.ofMillis(700));
    }
    assertThat(batched.getValue()).as("an endpoint seen to block wakes a thread per request again").isZero();
  }

  @Test
  void fanOutBoundsItsConcurrency() {
    startEcho(b -> b.concurrency(16));
    FanOut fan = client.fanOut(2);
    long t0 = System.nanoTime();
    for (int i = 0; i < 6; i++) {
      fan.call(echo, "echo", EchoRequest.newBuilder().setSleepMs(100).build(), EchoResponse.class);
    }
    assertThat(fan.awaitAll().allSucceeded()).isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("6 calls, 2 at a time, 100 ms each").isGreaterThanOrEqualTo(Duration.ofMillis(290));
  }

  @Test
  void handlerConcurrencyIsBounded() {
    AtomicInteger now = new AtomicInteger();
    AtomicInteger max = new AtomicInteger();
    startEcho(
        b ->
            b.concurrency(2)
                .endpoint(
                    Endpoint.of(
                        "count",
                        EchoRequest.class,
                        EchoResponse.class,
                        (req, ctx) -> {
                          max.accumulateAndGet(now.incrementAndGet(), Math::max);
                          try {
                            Thread.sleep(80);
                          } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                          }
                          now.decrementAndGet();
                          return EchoResponse.getDefaultInstance();
                        })));
    FanOut fan = client.fanOut(10);
    for (int i = 0; i < 8; i++) {
      fan.call(echo, "count", text(""), EchoResponse.class);
    }
    assertThat(fan.awaitAll().allSucceeded()).isTrue();
    assertThat(max.get()).isEqualTo(2);
  }

  @Test
  void aHandlerThatHangsPastItsDeadlineDoesNotTakeTheServiceDown() {
    startEcho(b -> b.concurrency(1));
    assertThatThrownBy(
            () -> client.call(echo, "echo", EchoRequest.newBuilder().setFail("spin").build(), EchoResponse.class,
                CallOptions.timeout(Duration.ofMillis(200))))
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT));
    // the only handler thread is still spinning (it ignores interrupts); the service must still answer
    long t0 = System.nanoTime();
    assertThat(client.call(echo, "echo", text("alive"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(1))).getText())
        .isEqualTo("alive");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(900));
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

  @Test
  void oversizedRequestIsRefusedByTheClientBeforeSending() {
    startEcho(b -> {});
    try (Client small = Client.builder().transport(transport).maxMessageBytes(1000).build()) {
      EchoRequest big = EchoRequest.newBuilder().setBlob(ByteString.copyFrom(new byte[2000])).build();
      assertThatThrownBy(() -> small.call(echo, "echo", big, EchoResponse.class))
          .isInstanceOfSatisfying(
              SkiffException.class,
              e -> {
                assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
                assertThat(e.description()).contains("over the message size limit of 1000 bytes");
              });
    }
    assertThat(handlerRuns.get()).isZero();
  }

  @Test
  void oversizedRequestIsRefusedByTheServerWithAClearError() {
    startEcho(b -> b.maxMessageBytes(1000));
    EchoRequest big = EchoRequest.newBuilder().setBlob(ByteString.copyFrom(new byte[2000])).build();
    assertThatThrownBy(() -> client.call(echo, "echo", big, EchoResponse.class))
        .isInstanceOfSatisfying(
            SkiffException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST);
              assertThat(e.description()).contains("over the message size limit of 1000 bytes");
            });
    assertThat(handlerRuns.get()).isZero();
    EchoRequest ok = EchoRequest.newBuilder().setBlob(ByteString.copyFrom(new byte[500])).build();
    assertThat(client.call(echo, "echo", ok, EchoResponse.class).getBlobSize()).isEqualTo(500);
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

  @Test
  void closeDrainsInFlightRequestsBeforeStopping() throws Exception {
    Server s = startEcho(b -> {});
    CompletableFuture<EchoResponse> inFlight =
        client.callAsync(echo, "echo", EchoRequest.newBuilder().setText("finish me").setSleepMs(400).build(), EchoResponse.class);
    await().until(() -> handlerRuns.get() == 1);
    s.close();
    assertThat(inFlight.get().getText()).isEqualTo("finish me");
    assertThat(s.isClosed()).isTrue();
  }

  @Test
  void requestsStillRunningAfterTheDrainGraceAreAnsweredUnavailable() {
    Server s = startEcho(b -> b.drainGrace(Duration.ofMillis(150)));
    CompletableFuture<EchoResponse> inFlight =
        client.callAsync(echo, "echo", EchoRequest.newBuilder().setFail("spin").build(), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(10)));
    await().until(() -> handlerRuns.get() == 1);
    long t0 = System.nanoTime();
    s.close();
    assertThatThrownBy(inFlight::join)
        .cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(3));
  }

  @Test
  void rollingRestartOfOneOfTwoInstancesLosesNoCall() {
    Server a = startEcho(b -> b.instanceId("one"));
    startEcho(b -> b.instanceId("two"));
    FanOut fan = client.fanOut(8);
    for (int i = 0; i < 40; i++) {
      fan.call(echo, "echo", EchoRequest.newBuilder().setSleepMs(20).build(), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(10)));
      if (i == 10) {
        CompletableFuture.runAsync(a::close);
      }
    }
    FanOut.Result r = fan.awaitAll();
    assertThat(r.errors()).isEmpty();
  }

  @Test
  void startTwiceIsRefusedAndCloseIsIdempotent() {
    Server s = startEcho(b -> {});
    assertThatThrownBy(s::start).isInstanceOf(IllegalStateException.class);
    s.close();
    s.close();
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
    try (Client patient =
        Client.builder().transport(transport).retryPolicy(
            dev.skiff.platform.client.RetryPolicy.defaults().withMaxAttempts(50).withBackoff(Duration.ofMillis(40), Duration.ofMillis(80)))
            .circuitBreaker(null).build()) {
      long t0 = System.nanoTime();
      assertThatThrownBy(
              () -> patient.call(echo, "flaky", flakyFor(1000, ErrorCode.UNAVAILABLE), EchoResponse.class,
                  CallOptions.timeout(Duration.ofMillis(400))))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isIn(ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT));
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(600));
      assertThat(flakyRuns.size()).isBetween(3, 15);
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

  @Test
  void aDuplicateArrivingWhileTheFirstRunsWaitsForItsAnswer() {
    AtomicInteger runs = new AtomicInteger();
    startEcho(b -> b.endpoint("slow-once", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
      runs.incrementAndGet();
      try {
        Thread.sleep(300);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return EchoResponse.newBuilder().setText("run " + runs.get()).build();
    }));
    CallOptions same = CallOptions.defaults().withRequestId("fedcba9876543210fedcba9876543210");
    CompletableFuture<EchoResponse> a = client.callAsync(echo, "slow-once", text(""), EchoResponse.class, same);
    CompletableFuture<EchoResponse> b = client.callAsync(echo, "slow-once", text(""), EchoResponse.class, same);
    assertThat(a.join().getText()).isEqualTo("run 1");
    assertThat(b.join().getText()).isEqualTo("run 1");
    assertThat(runs.get()).isEqualTo(1);
  }

  @Test
  void circuitBreakerOpensOnSustainedFailuresAndClosesWhenTheServiceRecovers() {
    startEcho(b -> {});
    dev.skiff.platform.client.BreakerOptions quick =
        dev.skiff.platform.client.BreakerOptions.defaults().withOpenFor(Duration.ofMillis(300));
    try (Client guarded = Client.builder().transport(transport).circuitBreaker(quick).retryPolicy(dev.skiff.platform.client.RetryPolicy.none()).build()) {
      EchoRequest failing = flakyFor(10, ErrorCode.INTERNAL);
      for (int i = 0; i < 10; i++) {
        assertThatThrownBy(() -> guarded.call(echo, "flaky", failing, EchoResponse.class))
            .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL));
      }
      int runsWhenOpened = flakyRuns.size();
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> guarded.call(echo, "flaky", failing, EchoResponse.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.CIRCUIT_OPEN);
            assertThat(e.description()).contains(echo + "/flaky");
          });
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("failed fast, not at a timeout").isLessThan(Duration.ofSeconds(1));
      assertThat(flakyRuns).as("nothing was sent while open").hasSize(runsWhenOpened);
      await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(100)).ignoreExceptionsInstanceOf(SkiffException.class).untilAsserted(() ->
          assertThat(guarded.call(echo, "flaky", failing, EchoResponse.class).getText()).startsWith("ok after"));
      for (int i = 0; i < 5; i++) {
        assertThat(guarded.call(echo, "flaky", failing, EchoResponse.class).getText()).startsWith("ok after");
      }
    }
  }

  @Test
  void aClientBoundsItsCallsInFlight() {
    startEcho(b -> b.concurrency(4));
    try (Client small = Client.builder().transport(transport).maxInFlight(5).build()) {
      List<CompletableFuture<EchoResponse>> calls = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        calls.add(small.callAsync(echo, "echo", EchoRequest.newBuilder().setSleepMs(100).build(), EchoResponse.class));
      }
      long capacity = calls.stream().filter(f -> {
        try {
          f.join();
          return false;
        } catch (RuntimeException e) {
          return SkiffException.of(e).code() == ErrorCode.CAPACITY;
        }
      }).count();
      assertThat(capacity).isEqualTo(7);
      assertThat(small.metrics().gauge("skiff.client.in-flight", () -> () -> -1).getValue()).isEqualTo(0);
    }
  }

  @Test
  void observersSeeEveryAttemptAndRequestAsOneTrace() {
    List<dev.skiff.platform.observe.ServerEvent> serverEvents = java.util.Collections.synchronizedList(new ArrayList<>());
    List<dev.skiff.platform.observe.ClientEvent> clientEvents = java.util.Collections.synchronizedList(new ArrayList<>());
    dev.skiff.platform.observe.RpcObserver recorder = new dev.skiff.platform.observe.RpcObserver() {
      @Override
      public void onServerRequest(dev.skiff.platform.observe.ServerEvent e) {
        serverEvents.add(e);
      }

      @Override
      public void onClientAttempt(dev.skiff.platform.observe.ClientEvent e) {
        clientEvents.add(e);
      }
    };
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
    List<dev.skiff.platform.observe.ServerEvent> serverEvents = java.util.Collections.synchronizedList(new ArrayList<>());
    List<dev.skiff.platform.observe.ClientEvent> clientEvents = java.util.Collections.synchronizedList(new ArrayList<>());
    dev.skiff.platform.observe.RpcObserver recorder = new dev.skiff.platform.observe.RpcObserver() {
      @Override
      public void onServerRequest(dev.skiff.platform.observe.ServerEvent e) {
        serverEvents.add(e);
      }

      @Override
      public void onClientAttempt(dev.skiff.platform.observe.ClientEvent e) {
        clientEvents.add(e);
      }
    };
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
      Thread.sleep(100);
      bus.publish(prefix + ".health.svc", text("h1"));
      bus.publish(prefix + ".health.svc.deeper", text("h2"));
      for (int i = 0; i < 10; i++) {
        bus.publish(prefix + ".work", text("w" + i));
      }
      await().atMost(Duration.ofSeconds(3)).until(() -> all.size() == 12 && groupA.size() + groupB.size() == 10);
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
}
