package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.skiff.platform.transport.amqp.AmqpNames;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.config.QueueType;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.RetryPolicy;
import dev.skiff.platform.internal.Closer;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What only a broker can show: redelivery, queue bounds, bounded memory under a flood, rolling restarts. */
class AmqpResilienceTest {
  private AmqpTransport transport;
  private Client client;
  /** What a test opened, closed at tear-down newest first: then the client, then the transport. */
  private final Closer toClose = new Closer();
  private final String service = "test.res." + Long.toHexString(System.nanoTime() & 0xfffffff);
  private final AtomicInteger runs = new AtomicInteger();

  @BeforeEach
  void setUp() {
    transport = toClose.register(
        AmqpTransport.connect(AmqpOptions.of(AmqpRpcTest.brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(2))));
    client = toClose.register(Client.builder().transport(transport).circuitBreaker(null).build());
  }

  @AfterEach
  void tearDown() {
    release.countDown();
    toClose.close();
  }

  private EchoResponse slowEcho(EchoRequest req) {
    runs.incrementAndGet();
    if (req.getSleepMs() > 0) {
      try {
        Thread.sleep(req.getSleepMs());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    return EchoResponse.newBuilder().setText(req.getText()).build();
  }

  /** Released by the test (and at tear-down): the "held" endpoint's handlers wait for it. */
  private final CountDownLatch release = new CountDownLatch(1);
  /** The "held" endpoint's handlers waiting now. */
  private final AtomicInteger holding = new AtomicInteger();

  private EchoResponse held(EchoRequest req) {
    runs.incrementAndGet();
    holding.incrementAndGet();
    try {
      if (!release.await(60, TimeUnit.SECONDS)) {
        throw new SkiffException(ErrorCode.INTERNAL, "never released");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SkiffException(ErrorCode.UNAVAILABLE, "interrupted");
    } finally {
      holding.decrementAndGet();
    }
    return EchoResponse.newBuilder().setText(req.getText()).build();
  }

  private Server start(java.util.function.Consumer<ServerBuilder> customize) {
    ServerBuilder b =
        Server.builder(service)
            .transport(transport)
            .endpoint(Endpoint.of("once", EchoRequest.class, EchoResponse.class, (req, ctx) -> slowEcho(req)))
            .endpoint(Endpoint.of("again", EchoRequest.class, EchoResponse.class, (req, ctx) -> slowEcho(req)).asIdempotent())
            .endpoint(Endpoint.of("held", EchoRequest.class, EchoResponse.class, (req, ctx) -> held(req)))
            // run on the transport's thread: a sleep here breaks the promise never to block (a test's misuse)
            .endpoint(Endpoint.of("inline", EchoRequest.class, EchoResponse.class, (req, ctx) -> slowEcho(req)).asNonBlocking());
    customize.accept(b);
    Server s = b.build().start();
    toClose.register(s);
    return s;
  }

  /**
   * A consumer that takes one request and goes away without answering it, as an instance killed
   * mid-request does: the broker then redelivers the request, marked as redelivered.
   */
  private void takeOneRequestAndDie() throws Exception {
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(AmqpRpcTest.brokerUri());
    try (Connection c = cf.newConnection()) {
      Channel ch = c.createChannel();
      ch.basicQos(1);
      CountDownLatch took = new CountDownLatch(1);
      ch.basicConsume(AmqpNames.serviceQueue(service), false, new DefaultConsumer(ch) {
        @Override
        public void handleDelivery(String tag, Envelope env, com.rabbitmq.client.AMQP.BasicProperties p, byte[] body) {
          took.countDown();
        }
      });
      assertThat(took.await(5, TimeUnit.SECONDS)).as("the dying consumer took the request").isTrue();
    } // closed without ack: the broker redelivers
  }

  private void declareServiceQueue() {
    // a server declares the queue; stop it at once so only the dying consumer below is consuming
    start(b -> {}).close();
  }

  @Test
  void aNonIdempotentRequestWhoseInstanceDiedIsAnsweredUnknownOutcomeNotRunTwice() throws Exception {
    declareServiceQueue();
    CompletableFuture<EchoResponse> call =
        client.callAsync(service, "once", EchoRequest.newBuilder().setText("pay").build(), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(10)));
    takeOneRequestAndDie();
    Server survivor = start(b -> {});
    assertThatThrownBy(() -> call.get(5, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> {
          assertThat(e.code()).isEqualTo(ErrorCode.UNKNOWN_OUTCOME);
          assertThat(e.description()).contains("not idempotent").contains("may or may not have been carried out");
        });
    assertThat(runs.get()).as("the survivor did not run it again").isZero();
    assertThat(survivor.metrics().counter("skiff.server.unknown-outcome").getCount()).isEqualTo(1);
  }

  @Test
  void anIdempotentRequestWhoseInstanceDiedIsServedByAnotherInstance() throws Exception {
    declareServiceQueue();
    CompletableFuture<EchoResponse> call =
        client.callAsync(service, "again", EchoRequest.newBuilder().setText("quote").build(), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(10)).withIdempotent(false));
    takeOneRequestAndDie();
    start(b -> {});
    assertThat(call.get(5, TimeUnit.SECONDS).getText()).isEqualTo("quote");
    assertThat(runs.get()).isEqualTo(1);
  }

  /**
   * Holds one request in the only handler of a service (prefetch 1, so it holds no other), then makes
   * {@code more} calls with a minute left each.
   *
   * @return all the calls, the held one first
   */
  private List<CompletableFuture<EchoResponse>> holdOneThenCall(int more) {
    List<CompletableFuture<EchoResponse>> calls = new ArrayList<>();
    calls.add(client.callAsync(service, "held", EchoRequest.getDefaultInstance(), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60))));
    await().atMost(Duration.ofSeconds(30)).until(() -> holding.get() == 1);
    for (int i = 0; i < more; i++) {
      calls.add(client.callAsync(service, "held", EchoRequest.getDefaultInstance(), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60))));
    }
    return calls;
  }

  private static boolean refusedWithCapacity(CompletableFuture<EchoResponse> f) {
    if (!f.isCompletedExceptionally()) {
      return false;
    }
    SkiffException e = SkiffException.of(f.handle((v, t) -> t).join());
    assertThat(e.code()).isEqualTo(ErrorCode.CAPACITY);
    assertThat(e.description()).contains("queue is full");
    return true;
  }

  /** Waits until {@code refused} of the calls have failed: each with CAPACITY, while one is still held. */
  private void assertRefusedWithCapacityWhileHeld(List<CompletableFuture<EchoResponse>> calls, int refused) {
    await().atMost(Duration.ofSeconds(30)).until(() -> calls.stream().filter(f -> f.isCompletedExceptionally()).count() >= refused);
    assertThat(calls.stream().filter(AmqpResilienceTest::refusedWithCapacity).count()).isEqualTo(refused);
    assertThat(holding.get()).as("still held").isEqualTo(1);
  }

  @Test
  void pastItsQueueDepthAServiceRefusesNewRequestsAtOnceWithCapacity() {
    start(b -> b.concurrency(1).prefetch(1).maxQueueDepth(3));
    // 1 held by the server, 3 queued: of the 11 calls that follow, 8 are refused while it is held
    List<CompletableFuture<EchoResponse>> calls = holdOneThenCall(11);
    assertRefusedWithCapacityWhileHeld(calls, 8);
    release.countDown();
    long served = calls.stream().filter(f -> {
      try {
        f.get(60, TimeUnit.SECONDS);
        return true;
      } catch (Exception e) {
        return false;
      }
    }).count();
    assertThat(served).isEqualTo(4);
    assertThat(runs.get()).isEqualTo(4);
  }

  @Test
  void capacityIsAnsweredAtOnceNotAtTheTimeout() {
    start(b -> b.concurrency(1).prefetch(1).maxQueueDepth(1));
    // 1 held, 1 queued: the other 4 are refused while the handler is still held and each call has a
    // minute left, so CAPACITY cannot have waited for a timeout
    List<CompletableFuture<EchoResponse>> calls = holdOneThenCall(5);
    assertRefusedWithCapacityWhileHeld(calls, 4);
  }

  @Test
  void aQuorumServiceQueuePastItsDepthAnswersCapacityAtOnceToo() {
    // a quorum queue cannot refuse the newest request: it drops its oldest waiting one into the refusal
    // queue instead, whose caller is answered CAPACITY; as many are refused, and as many served
    AmqpTransport quorum = AmqpTransport.connect(
        AmqpOptions.of(AmqpRpcTest.brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(2)).withQueueType(QueueType.QUORUM));
    toClose.register(quorum);
    start(b -> b.transport(quorum).concurrency(1).prefetch(1).maxQueueDepth(3));
    List<CompletableFuture<EchoResponse>> calls = holdOneThenCall(11);
    assertRefusedWithCapacityWhileHeld(calls, 8);
    release.countDown();
    long served = calls.stream().filter(f -> f.handle((v, e) -> e == null).join()).count();
    assertThat(served).isEqualTo(4);
    assertThat(runs.get()).isEqualTo(4);
  }

  @Test
  void withPublisherConfirmsAFullQueueIsStillAnsweredCapacityAtOnce() {
    // the setting for queues made by a Skiff that refused with reject-publish: the broker's nack answers
    AmqpTransport confirming = AmqpTransport.connect(
        AmqpOptions.of(AmqpRpcTest.brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(2)).withPublisherConfirms(true));
    toClose.register(confirming);
    Client confirmingClient = Client.builder().transport(confirming).circuitBreaker(null).build();
    toClose.register(confirmingClient);
    start(b -> b.concurrency(1).prefetch(1).maxQueueDepth(1));
    List<CompletableFuture<EchoResponse>> calls = holdOneThenCall(1);
    for (int i = 0; i < 3; i++) {
      calls.add(confirmingClient.callAsync(
          service, "held", EchoRequest.getDefaultInstance(), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(60))));
    }
    assertRefusedWithCapacityWhileHeld(calls, 3);
    assertThat(confirmingClient.callAsync(service, "missing", EchoRequest.getDefaultInstance(), EchoResponse.class)
            .handle((v, e) -> SkiffException.of(e).code()).join())
        .isEqualTo(ErrorCode.CAPACITY); // the queue is still full: refused before the endpoint is looked at
  }

  @Test
  void aRequestThatExpiresInABoundedQueueIsDroppedNotAnsweredAsARefusal() throws Exception {
    Server s = start(b -> b.concurrency(1).prefetch(1).maxQueueDepth(5));
    List<CompletableFuture<EchoResponse>> calls = holdOneThenCall(0);
    CompletableFuture<EchoResponse> late = client.callAsync(
        service, "held", EchoRequest.getDefaultInstance(), EchoResponse.class, CallOptions.timeout(Duration.ofMillis(300)));
    assertThat(SkiffException.of(late.handle((v, e) -> e).get(10, TimeUnit.SECONDS)).code()).isEqualTo(ErrorCode.TIMEOUT);
    // the broker expires it at the head of the queue and dead-letters it to the refusal queue, where the
    // instance drops it: a refusal is only for a request the full queue refused
    await().atMost(Duration.ofSeconds(10)).until(() -> refusalQueueDepth() == 0);
    Thread.sleep(200);
    assertThat(s.metrics().counter("skiff.server.queue-full-rejected").getCount()).isZero();
    assertThat(calls.get(0)).isNotDone();
    release.countDown();
    assertThat(calls.get(0).get(10, TimeUnit.SECONDS)).isNotNull();
    assertThat(runs.get()).isEqualTo(1);
  }

  private long refusalQueueDepth() throws Exception {
    ConnectionFactory cf = new ConnectionFactory();
    cf.setUri(AmqpRpcTest.brokerUri());
    try (Connection c = cf.newConnection()) {
      return c.createChannel().queueDeclarePassive(AmqpNames.refusalQueue(service)).getMessageCount();
    }
  }

  @Test
  void aReplyHeldBackInABatchBehindAQuickHandlerThatBlocksStillReachesItsCallerPromptly() throws Exception {
    // the pool runs the quick requests waiting together as a batch and sends their replies at its end;
    // when a handler so far quick blocks in the middle, the replies made before it must not wait for it
    Server s = start(b -> b.concurrency(1).prefetch(10));
    // quick runs until the pool batches the endpoint's requests (about 190 on a quiet machine)
    com.codahale.metrics.Gauge<?> batched = s.metrics().getGauges().get("skiff.server.endpoint.once.batched");
    for (int i = 0; i < 5_000 && !Integer.valueOf(1).equals(batched.getValue()); i++) {
      client.call(service, "once", EchoRequest.getDefaultInstance(), EchoResponse.class);
    }
    assertThat(batched.getValue()).as("the endpoint's requests are batched").isEqualTo(1);
    for (int i = 0; i < 200; i++) {
      // and well within the bound: one slow run (the first below) does not undo it
      client.call(service, "once", EchoRequest.getDefaultInstance(), EchoResponse.class);
    }
    int warm = runs.get();
    CallOptions wait = CallOptions.timeout(Duration.ofSeconds(20));
    CompletableFuture<EchoResponse> first = client.callAsync(
        service, "once", EchoRequest.newBuilder().setSleepMs(300).build(), EchoResponse.class, wait);
    await().atMost(Duration.ofSeconds(10)).until(() -> runs.get() == warm + 1);
    // both wait behind the first on the one thread, and then run as one batch
    CompletableFuture<EchoResponse> quick = client.callAsync(
        service, "once", EchoRequest.newBuilder().setText("quick").build(), EchoResponse.class, wait);
    CompletableFuture<EchoResponse> blocking = client.callAsync(
        service, "once", EchoRequest.newBuilder().setSleepMs(4_000).build(), EchoResponse.class, wait);
    first.get(10, TimeUnit.SECONDS);
    assertAnsweredWhileBlocked(
        quick, blocking, System.nanoTime(), "the quick reply, held in the batch while the next handler blocks");
  }

  /**
   * Asserts that a reply held back behind a handler that blocks reaches its caller within 1.5 s of
   * {@code sinceNanos} (the watchdog's flush; the blocking handler takes 4 s), and the blocked call later.
   */
  private static void assertAnsweredWhileBlocked(
      CompletableFuture<EchoResponse> quick, CompletableFuture<EchoResponse> blocking, long sinceNanos, String what)
      throws Exception {
    assertThat(quick.get(10, TimeUnit.SECONDS).getText()).isEqualTo("quick");
    assertThat(Duration.ofNanos(System.nanoTime() - sinceNanos)).as(what).isLessThan(Duration.ofMillis(1_500));
    assertThat(blocking).isNotDone();
    assertThat(blocking.get(20, TimeUnit.SECONDS)).isNotNull();
  }

  @Test
  void aReplyTheDeliveringThreadHoldsBackStillReachesItsCallerWhenANonBlockingHandlerBlocks() throws Exception {
    // the transport's thread runs handlers that never block and sends their replies when it has read
    // all that arrived; if one blocks anyway, the replies made before it must not wait for it
    start(b -> b.prefetch(10));
    CallOptions wait = CallOptions.timeout(Duration.ofSeconds(20));
    CompletableFuture<EchoResponse> first = client.callAsync(
        service, "inline", EchoRequest.newBuilder().setSleepMs(300).build(), EchoResponse.class, wait);
    await().atMost(Duration.ofSeconds(10)).until(() -> runs.get() == 1);
    // both arrive while the thread sleeps in the first: it reads them in one go after it
    CompletableFuture<EchoResponse> quick = client.callAsync(
        service, "inline", EchoRequest.newBuilder().setText("quick").build(), EchoResponse.class, wait);
    CompletableFuture<EchoResponse> blocking = client.callAsync(
        service, "inline", EchoRequest.newBuilder().setSleepMs(4_000).build(), EchoResponse.class, wait);
    await().atMost(Duration.ofSeconds(10)).until(() -> runs.get() == 3);
    long blocked = System.nanoTime();
    assertThat(first.get(10, TimeUnit.SECONDS)).isNotNull();
    assertAnsweredWhileBlocked(
        quick, blocking, blocked, "the replies held while the thread blocks in the third handler");
  }

  @Test
  void aRequestThatWaitedTooLongInTheQueueIsAnsweredCapacityWithoutRunning() {
    Server s = start(b -> b.concurrency(1).prefetch(10).maxQueueWait(Duration.ofMillis(150)));
    List<CompletableFuture<EchoResponse>> calls = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      calls.add(client.callAsync(service, "once", EchoRequest.newBuilder().setSleepMs(200).build(), EchoResponse.class,
          CallOptions.timeout(Duration.ofSeconds(10))));
    }
    long refused = calls.stream().filter(f -> {
      try {
        f.join();
        return false;
      } catch (RuntimeException e) {
        assertThat(SkiffException.of(e).code()).isEqualTo(ErrorCode.CAPACITY);
        assertThat(SkiffException.of(e).description()).contains("waited").contains("over the limit of 150 ms");
        return true;
      }
    }).count();
    assertThat(refused).isGreaterThanOrEqualTo(2);
    assertThat(runs.get()).isEqualTo(4 - (int) refused);
    assertThat(s.metrics().counter("skiff.server.queue-wait-rejected").getCount()).isEqualTo(refused);
  }

  @Test
  void aFloodBiggerThanTheServiceCanServeStaysBoundedInTheServer() throws Exception {
    // What the server holds is every request it has taken and not yet answered, running or waiting for a
    // handler thread: the gauge skiff.server.in-flight (skiff.server.queued counts only those waiting).
    // It is sampled by every handler as it starts and ends (samples that cannot be missing: one per
    // served request) and by a sampler thread in between, whose samples are counted and whose failure
    // fails the test.
    int concurrency = 2;
    int prefetch = 4;
    AtomicInteger maxHeld = new AtomicInteger();
    AtomicInteger leastSeenByAHandler = new AtomicInteger(Integer.MAX_VALUE);
    AtomicInteger handlerSamples = new AtomicInteger();
    java.util.concurrent.atomic.AtomicReference<Server> server = new java.util.concurrent.atomic.AtomicReference<>();
    java.util.function.IntSupplier held =
        () -> ((Number) server.get().metrics().getGauges().get("skiff.server.in-flight").getValue()).intValue();
    Runnable sample = () -> maxHeld.accumulateAndGet(held.getAsInt(), Math::max);
    Runnable sampleInHandler = () -> {
      int n = held.getAsInt();
      maxHeld.accumulateAndGet(n, Math::max);
      leastSeenByAHandler.accumulateAndGet(n, Math::min);
      handlerSamples.incrementAndGet();
    };
    server.set(start(b -> b.concurrency(concurrency).prefetch(prefetch).maxQueueDepth(200)
        .endpoint(Endpoint.of("flood", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
          sampleInHandler.run();
          EchoResponse r = slowEcho(req);
          sampleInHandler.run();
          return r;
        }))));
    AtomicBoolean flooding = new AtomicBoolean(true);
    AtomicInteger samplerSamples = new AtomicInteger();
    CompletableFuture<Void> sampler = CompletableFuture.runAsync(() -> {
      while (flooding.get()) {
        sample.run();
        samplerSamples.incrementAndGet();
        java.util.concurrent.locks.LockSupport.parkNanos(50_000); // leaves the CPU to the server now and then
      }
    }, r -> new Thread(r, "sampler").start());
    List<CompletableFuture<EchoResponse>> calls = new ArrayList<>();
    for (int i = 0; i < 3000; i++) {
      calls.add(client.callAsync(service, "flood", EchoRequest.newBuilder().setSleepMs(20).build(), EchoResponse.class,
          CallOptions.timeout(Duration.ofSeconds(3))));
    }
    Map<ErrorCode, Integer> outcomes = new ConcurrentHashMap<>();
    int ok = 0;
    for (CompletableFuture<EchoResponse> f : calls) {
      try {
        f.get(60, TimeUnit.SECONDS);
        ok++;
      } catch (java.util.concurrent.ExecutionException e) {
        outcomes.merge(SkiffException.of(e).code(), 1, Integer::sum);
      }
    }
    flooding.set(false);
    sampler.get(60, TimeUnit.SECONDS); // rethrows what killed the sampler
    System.out.printf("flood of 3000: %d served, refused/failed by code %s, most held in the server %d (%d samples in handlers, %d between)%n",
        ok, outcomes, maxHeld.get(), handlerSamples.get(), samplerSamples.get());
    assertThat(handlerSamples.get()).as("two samples per served request").isGreaterThanOrEqualTo(2 * ok);
    assertThat(leastSeenByAHandler.get()).as("a running request is held: a handler always sees itself").isGreaterThanOrEqualTo(1);
    assertThat(samplerSamples.get()).isPositive();
    assertThat(maxHeld.get()).as("requests held in the server's memory, at most")
        .isLessThanOrEqualTo(prefetch)
        .as("and it held more than it ran: prefetched requests waited in the server")
        .isGreaterThan(concurrency);
    assertThat(outcomes.keySet()).isSubsetOf(ErrorCode.CAPACITY, ErrorCode.TIMEOUT);
    assertThat(outcomes.getOrDefault(ErrorCode.CAPACITY, 0)).isGreaterThan(1000);
    assertThat(ok).isPositive();
  }

  @Test
  void aRollingRestartOfThreeInstancesUnderSteadyLoadShowsNoCallerAnError() throws Exception {
    // each of three instances is closed and then replaced, in turn, while four callers keep 16 calls in
    // flight; each step waits until the new instance has served calls of its own
    List<Server> instances = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      instances.add(start(b -> b.drainGrace(Duration.ofSeconds(5))));
    }
    AtomicBoolean running = new AtomicBoolean(true);
    Map<String, Integer> errors = new ConcurrentHashMap<>();
    Map<String, AtomicInteger> servedBy = new ConcurrentHashMap<>();
    AtomicInteger ok = new AtomicInteger();
    List<Thread> callers = new ArrayList<>();
    for (int c = 0; c < 4; c++) {
      Thread t = new Thread(() -> {
        while (running.get()) {
          List<CompletableFuture<dev.skiff.platform.client.Reply<EchoResponse>>> calls = new ArrayList<>();
          for (int i = 0; i < 4; i++) {
            calls.add(client.exchange(service, "once", EchoRequest.newBuilder().setSleepMs(50).build(), EchoResponse.class,
                CallOptions.timeout(Duration.ofSeconds(10))));
          }
          for (CompletableFuture<dev.skiff.platform.client.Reply<EchoResponse>> f : calls) {
            try {
              servedBy.computeIfAbsent(f.get(60, TimeUnit.SECONDS).instance(), k -> new AtomicInteger()).incrementAndGet();
              ok.incrementAndGet();
            } catch (Exception e) {
              SkiffException se = SkiffException.of(e);
              errors.merge(se.code() + ": " + se.description(), 1, Integer::sum);
            }
          }
        }
      }, "caller-" + c);
      t.start();
      callers.add(t);
    }
    try {
      await().atMost(Duration.ofSeconds(30)).until(() -> instances.stream().allMatch(s -> served(servedBy, s) >= 10));
      for (int i = 0; i < 3; i++) {
        instances.get(i).close();
        Server replacement = start(b -> b.drainGrace(Duration.ofSeconds(5)));
        instances.set(i, replacement);
        await().atMost(Duration.ofSeconds(30)).until(() -> served(servedBy, replacement) >= 50);
      }
    } finally {
      running.set(false);
      for (Thread t : callers) {
        t.join(120_000);
      }
    }
    System.out.printf("rolling restart of 3 instances: %d calls succeeded, errors %s%n", ok.get(), errors);
    assertThat(errors).isEmpty();
    assertThat(servedBy).as("three instances and their replacements all served").hasSize(6);
  }

  private static int served(Map<String, AtomicInteger> servedBy, Server s) {
    AtomicInteger n = servedBy.get(s.instanceId());
    return n == null ? 0 : n.get();
  }

  @Test
  void clientRetriesAnIdempotentCallThroughABriefCapacityRefusal() {
    start(b -> b.concurrency(1).prefetch(1).maxQueueDepth(1));
    try (Client retrying = Client.builder().transport(transport).circuitBreaker(null)
        .retryPolicy(RetryPolicy.defaults().withMaxAttempts(20).withBackoff(Duration.ofMillis(100), Duration.ofMillis(300))).build()) {
      List<CompletableFuture<EchoResponse>> calls = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        calls.add(retrying.callAsync(service, "again", EchoRequest.newBuilder().setSleepMs(100).build(), EchoResponse.class,
            CallOptions.timeout(Duration.ofSeconds(10)).withIdempotent(true)));
      }
      calls.forEach(CompletableFuture::join);
      assertThat(retrying.metrics().counter("skiff.client.retries").getCount()).isPositive();
    }
  }

  @Test
  void anInstanceWhoseQueueArgumentsDifferFromTheExistingQueueStillServes() {
    start(b -> b.maxQueueDepth(50));
    try (AmqpTransport other = AmqpTransport.connect(AmqpOptions.of(AmqpRpcTest.brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(3)))) {
      Server second = Server.builder(service).transport(other).instanceId("second")
          .endpoint(Endpoint.of("once", EchoRequest.class, EchoResponse.class, (req, ctx) -> EchoResponse.newBuilder().setText("second").build()))
          .build().start();
      try {
        assertThat(Client.await(client.exchange(service, "once", EchoRequest.getDefaultInstance(), EchoResponse.class,
            CallOptions.defaults().withInstance("second"))).instance()).isEqualTo("second");
      } finally {
        second.close();
      }
    }
  }
}
