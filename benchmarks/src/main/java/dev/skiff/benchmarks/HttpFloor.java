package dev.skiff.benchmarks;

import com.example.greeter.Greeter;
import com.example.greeter.proto.HelloRequest;
import com.example.greeter.proto.HelloResponse;
import dev.skiff.gateway.GatewayOptions;
import dev.skiff.kernel.LimitedJetty;
import dev.skiff.platform.client.Client;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * What the least gateway costs on the gateway's server: Jetty set up as the gateway's is
 * ({@link LimitedJetty} with the gateway's default limits), with a handler that runs on the thread that
 * read the request, reads its body and either answers the greeter's reply as fixed JSON ({@link #bare},
 * no service called: the HTTP exchange alone) or calls the greeter with a fixed request and writes its
 * greeting ({@link #thin}: an HTTP exchange plus an RPC call, with no routing, JSON parsing, identity,
 * limits, metrics or tracing). {@link GatewayInterleaved} runs wrk against them beside the gateway and
 * direct RPC, to show what share of direct RPC's throughput any gateway could keep on this machine.
 */
final class HttpFloor {
  private static final byte[] REPLY = "{\"greeting\":\"Hello, Ada!\"}".getBytes(StandardCharsets.UTF_8);
  private static final HelloRequest ADA = HelloRequest.newBuilder().setName("Ada").build();

  private final LimitedJetty jetty;

  private HttpFloor(LimitedJetty jetty) {
    this.jetty = jetty;
  }

  /**
   * Starts a server answering fixed JSON on a free port of 127.0.0.1.
   *
   * @return the running server
   * @throws Exception when Jetty does not start
   */
  static HttpFloor bare() throws Exception {
    return start("bench-http-bare", (request, response, callback) ->
        response.write(true, ByteBuffer.wrap(REPLY), callback));
  }

  /**
   * Starts a server answering each request with a call to the greeter, on a free port of 127.0.0.1.
   *
   * @param client calls the greeter
   * @return the running server
   * @throws Exception when Jetty does not start
   */
  static HttpFloor thin(Client client) throws Exception {
    return start("bench-http-thin", (request, response, callback) ->
        client.callAsync(Greeter.NAME, "hello", ADA, HelloResponse.class).whenComplete((reply, failure) -> {
          if (failure != null) {
            Response.writeError(request, response, callback, HttpStatus.BAD_GATEWAY_502);
            return;
          }
          // the greeter's answer is plain ASCII here (a fixed name), so no escaping is needed
          byte[] json = ("{\"greeting\":\"" + reply.getGreeting() + "\"}").getBytes(StandardCharsets.UTF_8);
          response.write(true, ByteBuffer.wrap(json), callback);
        }));
  }

  /** What answers a request once its body was read. */
  private interface Answer {
    void answer(Request request, Response response, Callback callback);
  }

  private static HttpFloor start(String threadName, Answer answer) throws Exception {
    LimitedJetty jetty = LimitedJetty.create(threadName, GatewayOptions.defaults().http(), "127.0.0.1", 0)
        .handler(new Handler.Abstract.NonBlocking() {
          @Override
          public boolean handle(Request request, Response response, Callback callback) {
            Content.Source.consumeAll(request, Callback.from(() -> {
              response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
              answer.answer(request, response, callback);
            }, callback::failed));
            return true;
          }
        });
    jetty.server().start();
    return new HttpFloor(jetty);
  }

  /** @return the port it listens on */
  int port() {
    return jetty.connector().getLocalPort();
  }

  /**
   * Stops the server.
   *
   * @throws Exception when Jetty does not stop cleanly
   */
  void stop() throws Exception {
    jetty.server().stop();
  }
}
