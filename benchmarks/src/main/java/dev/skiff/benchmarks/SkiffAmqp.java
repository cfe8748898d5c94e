package dev.skiff.benchmarks;

import dev.skiff.benchmarks.proto.Echo;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.RetryPolicy;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Skiff over RabbitMQ: an echo Server and a Client, each on its own AmqpTransport (its own connection,
 * as when they run in different processes). With {@code profile=default} (the headline figures) every
 * setting is Skiff's default. {@code profile=metricsOff}: the server's metrics off
 * ({@code MonitoringOptions.withMetrics(false)}, as {@code SKIFF_METRICS=off}). {@code profile=lean}:
 * everything the public API lets a service turn off, to see what those features cost: metrics, the
 * client's retries and circuit breaker, and the asserted AMQP user_id.
 */
@State(Scope.Benchmark)
public class SkiffAmqp {
  /** The transport's reply mode: the default, or DIRECT_REPLY_TO to compare ({@code -p replyMode=...}). */
  @Param({"REPLY_QUEUE"})
  public String replyMode;

  /** {@code default}, {@code metricsOff} or {@code lean} ({@code -p profile=lean}): see the class comment. */
  @Param({"default"})
  public String profile;

  Client client;
  private AmqpTransport serverTransport;
  private AmqpTransport clientTransport;
  private Server server;

  /** Starts the server and the client and makes one call. */
  @Setup(Level.Trial)
  public void start() {
    boolean lean = profile.equals("lean");
    boolean metricsOff = lean || profile.equals("metricsOff");
    if (!lean && !metricsOff && !profile.equals("default")) {
      throw new IllegalArgumentException("profile must be default, metricsOff or lean: " + profile);
    }
    AmqpOptions options =
        AmqpOptions.of(Bench.brokerUri())
            .withReplyMode(AmqpOptions.ReplyMode.valueOf(replyMode))
            .withAssertUserId(!lean);
    serverTransport = AmqpTransport.connect(options.withConnectionName("bench-skiff-server"));
    clientTransport = AmqpTransport.connect(options.withConnectionName("bench-skiff-client"));
    Server.Builder sb =
        Server.builder(Bench.SERVICE)
            .transport(serverTransport)
            .endpoint(Bench.ENDPOINT, Echo.class, Echo.class, (request, ctx) -> request);
    Client.Builder cb = Client.builder().transport(clientTransport).name("bench.caller");
    if (metricsOff) {
      sb.monitoring(MonitoringOptions.defaults().withMetrics(false));
    }
    if (lean) {
      cb.retryPolicy(RetryPolicy.none()).circuitBreaker(null);
    }
    server = sb.build().start();
    client = cb.build();
    Bench.checkEcho(client.call(Bench.SERVICE, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class), "skiff over amqp");
  }

  /** Closes everything. */
  @TearDown(Level.Trial)
  public void stop() {
    client.close();
    server.close();
    clientTransport.close();
    serverTransport.close();
  }
}
