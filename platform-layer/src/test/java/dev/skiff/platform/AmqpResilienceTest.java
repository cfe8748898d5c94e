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
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.FanOut;
import dev.skiff.platform.client.RetryPolicy;
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
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What only a broker can show: redelivery, queue bounds, bounded memory under a flood, rolling restarts. */
class AmqpResilienceTest {
  private AmqpTransport transport;
  private Client client;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final String service = "test.res." + Long.toHexString(System.nanoTime() & 0xfffffff);
  private final AtomicInteger runs = new AtomicInteger();

  @BeforeEach
  void setUp() {
    transport = AmqpTransport.connect(AmqpOptions.of(AmqpRpcTest.brokerUri()).withServiceQueueExpiry(Duration.ofMinutes(2)));
    client = Client.builder().transport(transport).circuitBreaker(null).build();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    client.close();
    transport.close();
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

  private Server start(java.util.function.Consumer<ServerBuilder> customize) {
    ServerBuilder b =
        Server.builder(service)
            .transport(transport)
            .endpoint(Endpoint.of("once", EchoRequest.class, EchoResponse.class, (req, ctx) -> slowEcho(req)))
            .endpoint(Endpoint.of("again", EchoRequest.class, EchoResponse.class, (req, ctx) -> slowEcho(req)).asIdempotent());
    customize.accept(b);
    Server s = b.build().start();
    toClose.add(s);
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

  @Test
  void pastItsQueueDepthAServiceRefusesNewRequestsAtOnceWithCapacity() {
    start(b -> b.concurrency(1).prefetch(1).maxQueueDepth(3));
    List<CompletableFuture<EchoResponse>> calls = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < 12; i++) {
      calls.add(client.callAsync(service, "once", EchoRequest.newBuilder().setSleepMs(300).build(), EchoResponse.class,
          CallOptions.timeout(Duration.ofSeconds(10))));
    }
    AtomicLong firstCapacityMillis = new AtomicLong(-1);
    int capacity = 0;
    for (CompletableFuture<EchoResponse> f : calls) {
      try {
        f.join();
      } catch (RuntimeException e) {
        SkiffException se = SkiffException.of(e);
        assertThat(se.code()).isEqualTo(ErrorCode.CAPACITY);
        assertThat(se.description()).contains("queue is full");
        capacity++;
        firstCapacityMillis.compareAndSet(-1, (System.nanoTime() - t0) / 1_000_000);
      }
    }
    // 1 running + 1 prefetched + 3 queued are taken; the rest are refused
    assertThat(capacity).isBetween(6, 8);
    assertThat(runs.get()).isEqualTo(12 - capacity);
  }

  @Test
  void capacityIsAnsweredQuicklyNotAtTheTimeout() {
    start(b -> b.concurrency(1).prefetch(1).maxQueueDepth(1));
    List<CompletableFuture<EchoResponse>> calls = new ArrayList<>();
    Map<Integer, Long> failedAfter = new ConcurrentHashMap<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < 6; i++) {
      int n = i;
      calls.add(client.callAsync(service, "once", EchoRequest.newBuilder().setSleepMs(1000).build(), EchoResponse.class,
              CallOptions.timeout(Duration.ofSeconds(10)))
          .whenComplete((r, e) -> {
            if (e != null) {
              failedAfter.put(n, (System.nanoTime() - t0) / 1_000_000);
            }
          }));
    }
    await().atMost(Duration.ofSeconds(2)).until(() -> failedAfter.size() >= 3);
    assertThat(failedAfter.values()).allSatisfy(ms -> assertThat(ms).isLessThan(1000));
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
  void aFloodBiggerThanTheServiceCanServeStaysBoundedInTheServer() {
    Server s = start(b -> b.concurrency(2).prefetch(4).maxQueueDepth(200));
    AtomicInteger maxQueued = new AtomicInteger();
    AtomicBoolean flooding = new AtomicBoolean(true);
    Thread sampler = new Thread(() -> {
      while (flooding.get()) {
        Object v = s.metrics().getGauges().get("skiff.server.queued").getValue();
        maxQueued.accumulateAndGet(((Number) v).intValue(), Math::max);
        Thread.onSpinWait();
      }
    }, "sampler");
    sampler.start();
    List<CompletableFuture<EchoResponse>> calls = new ArrayList<>();
    for (int i = 0; i < 3000; i++) {
      calls.add(client.callAsync(service, "once", EchoRequest.newBuilder().setSleepMs(20).build(), EchoResponse.class,
          CallOptions.timeout(Duration.ofSeconds(3))));
    }
    Map<ErrorCode, Integer> outcomes = new ConcurrentHashMap<>();
    int ok = 0;
    for (CompletableFuture<EchoResponse> f : calls) {
      try {
        f.join();
        ok++;
      } catch (RuntimeException e) {
        outcomes.merge(SkiffException.of(e).code(), 1, Integer::sum);
      }
    }
    flooding.set(false);
    System.out.printf("flood of 3000: %d served, refused/failed by code %s, most queued in the server %d%n", ok, outcomes, maxQueued.get());
    assertThat(maxQueued.get()).as("requests held in the server's memory").isLessThanOrEqualTo(2 * 4);
    assertThat(outcomes.keySet()).isSubsetOf(ErrorCode.CAPACITY, ErrorCode.TIMEOUT);
    assertThat(outcomes.getOrDefault(ErrorCode.CAPACITY, 0)).isGreaterThan(1000);
    assertThat(ok).isPositive();
  }

  @Test
  void aRollingRestartOfThreeInstancesUnderSteadyLoadShowsNoCallerAnError() throws Exception {
    List<Server> instances = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      instances.add(start(b -> b.drainGrace(Duration.ofSeconds(5))));
    }
    AtomicBoolean running = new AtomicBoolean(true);
    Map<String, Integer> errors = new ConcurrentHashMap<>();
    AtomicInteger ok = new AtomicInteger();
    List<Thread> callers = new ArrayList<>();
    for (int c = 0; c < 4; c++) {
      Thread t = new Thread(() -> {
        while (running.get()) {
          FanOut fan = client.fanOut(4);
          for (int i = 0; i < 4; i++) {
            fan.call(service, "once", EchoRequest.newBuilder().setSleepMs(15).build(), EchoResponse.class,
                CallOptions.timeout(Duration.ofSeconds(10)));
          }
          FanOut.Result r = fan.awaitAll();
          ok.addAndGet(r.succeeded());
          r.errors().forEach(e -> errors.merge(e.code() + ": " + e.description(), 1, Integer::sum));
        }
      }, "caller-" + c);
      t.start();
      callers.add(t);
    }
    Thread.sleep(500);
    for (int i = 0; i < 3; i++) {
      Server old = instances.get(i);
      old.close();
      instances.set(i, start(b -> b.drainGrace(Duration.ofSeconds(5))));
      Thread.sleep(400);
    }
    running.set(false);
    for (Thread t : callers) {
      t.join(15_000);
    }
    System.out.printf("rolling restart of 3 instances: %d calls succeeded, errors %s%n", ok.get(), errors);
    assertThat(errors).isEmpty();
    assertThat(ok.get()).isGreaterThan(200);
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
