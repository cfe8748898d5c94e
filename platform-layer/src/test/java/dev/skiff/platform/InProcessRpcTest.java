package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The RPC contract over the in-process transport, plus server logic that needs no broker to show. */
class InProcessRpcTest extends RpcContract {
  @Override
  protected Transport newTransport() {
    return InProcessTransport.create();
  }

  @Test
  void clientsSharingARegistryAddUpTheirCallsInFlightAndAClosedOneDropsOut() {
    startEcho(b -> b.concurrency(4));
    MetricRegistry shared = new MetricRegistry();
    Client first = Client.builder().transport(transport).metrics(shared).build();
    Client second = Client.builder().transport(transport).metrics(shared).build();
    try {
      CallOptions patient = CallOptions.timeout(Duration.ofSeconds(60));
      CompletableFuture<EchoResponse> a = first.callAsync(echo, "echo", gated(), EchoResponse.class, patient);
      second.callAsync(echo, "echo", gated(), EchoResponse.class, patient);
      second.callAsync(echo, "echo", gated(), EchoResponse.class, patient);
      await().atMost(Duration.ofSeconds(30)).until(() -> atGate.get() == 3);
      Gauge<?> inFlight = shared.getGauges().get("skiff.client.in-flight");
      assertThat(inFlight.getValue()).as("both clients' calls, not the first client's alone").isEqualTo(3L);
      second.close();
      assertThat(inFlight.getValue()).as("a closed client's calls ended; it counts no more").isEqualTo(1L);
      gate.countDown();
      a.join();
      assertThat(inFlight.getValue()).isEqualTo(0L);
      assertThat(shared.getGauges().get("skiff.client.open-circuits").getValue()).isEqualTo(0L);
    } finally {
      second.close();
      first.close();
    }
  }

  @Test
  void inProcessEveryCallerAndPublisherIsTheOneInProcessIdentity() {
    startEcho(b -> b.endpoint("whoami", EchoRequest.class, EchoResponse.class,
        (req, ctx) -> EchoResponse.newBuilder().setText(ctx.callerIdentity().orElse("?")).build()));
    assertThat(client.call(echo, "whoami", text(""), EchoResponse.class).getText()).isEqualTo(InProcessTransport.IDENTITY);
    java.util.List<String> senders = new java.util.concurrent.CopyOnWriteArrayList<>();
    Transport.Subscription sub = new dev.skiff.platform.pubsub.PubSub(transport)
        .subscribeWithSender("identity.#", null, EchoRequest.class, (topic, e, sender) -> senders.add(sender));
    new dev.skiff.platform.pubsub.PubSub(transport).publish("identity.test", text("x"));
    await().atMost(Duration.ofSeconds(10)).until(() -> senders.contains(InProcessTransport.IDENTITY));
    sub.close();
  }

  @Test
  void aStuckHandlerPastTheCapOfExtraThreadsDoesNotCostAThreadLater() {
    java.util.concurrent.atomic.AtomicInteger now = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger most = new java.util.concurrent.atomic.AtomicInteger();
    Server s = startEcho(b -> b.concurrency(1).endpoint(Endpoint.of("overlap", EchoRequest.class, EchoResponse.class, (req, ctx) -> {
      most.accumulateAndGet(now.incrementAndGet(), Math::max);
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        now.decrementAndGet();
      }
      return EchoResponse.getDefaultInstance();
    })));
    CallOptions quick = CallOptions.timeout(Duration.ofSeconds(1));
    // the first stuck handler gets an extra thread (the cap is `concurrency` extra); the second, on
    // that extra thread, finds the cap reached and gets none
    assertTimesOut(client.callAsync(echo, "echo", stuck(), EchoResponse.class, quick));
    assertTimesOut(client.callAsync(echo, "echo", stuck(), EchoResponse.class, quick));
    await().atMost(Duration.ofSeconds(30)).until(() -> atGate.get() == 2
        && s.metrics().counter("skiff.server.handler-overruns").getCount() == 2);
    assertThat(handlerRuns.get()).isEqualTo(2);
    // both end (they ignored their interrupts): the pool is back to one thread, and a new stuck handler
    // gets its extra thread again, so the service keeps answering while it is stuck
    gate.countDown();
    await().atMost(Duration.ofSeconds(30)).until(() -> atGate.get() == 0);
    // back to one thread: two calls at once run one after the other (the added thread is given back
    // just after the stuck handler returns, hence the wait)
    await().atMost(Duration.ofSeconds(30)).until(() -> {
      most.set(0);
      CompletableFuture<EchoResponse> a = client.callAsync(echo, "overlap", text(""), EchoResponse.class);
      CompletableFuture<EchoResponse> b = client.callAsync(echo, "overlap", text(""), EchoResponse.class);
      a.get(60, TimeUnit.SECONDS);
      b.get(60, TimeUnit.SECONDS);
      return most.get() == 1;
    });
    gate = new CountDownLatch(1);
    assertTimesOut(client.callAsync(echo, "echo", stuck(), EchoResponse.class, quick));
    await().atMost(Duration.ofSeconds(30)).until(() -> s.metrics().counter("skiff.server.handler-overruns").getCount() == 3);
    assertThat(client.call(echo, "echo", text("alive"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(30))).getText())
        .isEqualTo("alive");
    assertThat(atGate.get()).as("the third is still stuck").isEqualTo(1);
  }

  private static void assertTimesOut(CompletableFuture<EchoResponse> call) {
    assertThatThrownBy(() -> call.get(60, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.TIMEOUT));
  }
}
