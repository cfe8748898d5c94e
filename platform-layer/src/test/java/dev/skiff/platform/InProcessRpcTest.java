package dev.skiff.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.inprocess.InProcessTransport;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/** The RPC contract over the in-process transport, plus server logic that needs no broker to show. */
class InProcessRpcTest extends RpcContract {
  @Override
  protected Transport newTransport() {
    return InProcessTransport.create();
  }

  @Test
  void aStuckHandlerPastTheCapOfExtraThreadsDoesNotCostAThreadLater() throws InterruptedException {
    Server s = startEcho(b -> b.concurrency(1));
    EchoRequest spin = EchoRequest.newBuilder().setFail("spin").build();
    CallOptions quick = CallOptions.timeout(Duration.ofMillis(200));
    // the first stuck handler gets an extra thread (the cap is `concurrency` extra); the second, on
    // that extra thread, finds the cap reached and gets none
    CompletableFuture<EchoResponse> first = client.callAsync(echo, "echo", spin, EchoResponse.class, quick);
    assertThatThrownBy(first::join).isInstanceOf(CompletionException.class);
    CompletableFuture<EchoResponse> second = client.callAsync(echo, "echo", spin, EchoResponse.class, quick);
    assertThatThrownBy(second::join).isInstanceOf(CompletionException.class);
    await().atMost(Duration.ofSeconds(2)).until(() -> handlerRuns.get() == 2);
    assertThat(s.metrics().counter("skiff.server.handler-overruns").getCount()).isEqualTo(2);
    Thread.sleep(1700); // each spins for 1.5 s, ignoring its interrupt
    // both have ended: the pool is back to one thread, and a new stuck handler gets its extra thread
    // again, so the service keeps answering
    CompletableFuture<EchoResponse> third = client.callAsync(echo, "echo", spin, EchoResponse.class, quick);
    assertThatThrownBy(third::join).isInstanceOf(CompletionException.class);
    assertThat(client.call(echo, "echo", text("alive"), EchoResponse.class, CallOptions.timeout(Duration.ofSeconds(1))).getText())
        .isEqualTo("alive");
  }
}
