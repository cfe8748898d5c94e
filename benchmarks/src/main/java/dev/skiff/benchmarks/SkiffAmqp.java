package dev.skiff.benchmarks;

import dev.skiff.benchmarks.proto.Echo;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.RetryPolicy;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.trace.SpanSink;
import dev.skiff.platform.trace.Tracing;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpOptions;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.util.concurrent.atomic.AtomicLong;
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
 * client's retries and circuit breaker, and (with {@code replyMode=DIRECT_REPLY_TO} only) the asserted
 * AMQP user_id: a server replies to a reply queue only for requests whose user_id proves it is the
 * caller's (docs/security.md), so with reply queues user_id stays on.
 *
 * <p>{@code handler=nonBlocking} declares the echo endpoint {@code asNonBlocking()}, so it runs on the
 * delivery thread instead of the handler pool. {@code traceRate} is the share of calls traced (client
 * and server each with their own {@code Tracing}, shipping spans over the broker to a consumer in this
 * JVM that counts and discards them, as the trace service would take them): 0 (the default, as
 * {@code SKIFF_TRACE_SAMPLE_RATE}'s default), 0.01 or 1.
 */
@State(Scope.Benchmark)
public class SkiffAmqp {
  /** The transport's reply mode: the default, or DIRECT_REPLY_TO to compare ({@code -p replyMode=...}). */
  @Param({"REPLY_QUEUE"})
  public String replyMode;

  /** {@code default}, {@code metricsOff} or {@code lean} ({@code -p profile=lean}): see the class comment. */
  @Param({"default"})
  public String profile;

  /** {@code pool} (the default) or {@code nonBlocking} ({@code -p handler=nonBlocking}). */
  @Param({"pool"})
  public String handler;

  /** Whether requests carry a per-message TTL ({@code AmqpOptions.withMessageTtl}; {@code -p messageTtl=false}). */
  @Param({"true"})
  public boolean messageTtl;

  /** The sampling rate of tracing, 0 to 1 ({@code -p traceRate=0.01,1}); 0: no tracing. */
  @Param({"0"})
  public double traceRate;

  /**
   * The set-up with every default, for the drivers outside JMH ({@link CallDriver}, {@link Interleaved}),
   * not started.
   *
   * @param nonBlocking whether the echo endpoint is {@code asNonBlocking()}
   * @return the set-up
   */
  static SkiffAmqp defaults(boolean nonBlocking) {
    SkiffAmqp s = new SkiffAmqp();
    s.replyMode = "REPLY_QUEUE";
    s.profile = "default";
    s.handler = nonBlocking ? "nonBlocking" : "pool";
    s.messageTtl = true;
    s.traceRate = 0;
    return s;
  }

  private Tracing serverTracing;
  private Tracing clientTracing;
  private Transport.Subscription spanConsumer;
  /** Spans that reached the consumer. */
  final AtomicLong spansConsumed = new AtomicLong();

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
            .withAssertUserId(!lean || !replyMode.equals("REPLY_QUEUE"))
            .withMessageTtl(messageTtl);
    serverTransport = AmqpTransport.connect(options.withConnectionName("bench-skiff-server"));
    clientTransport = AmqpTransport.connect(options.withConnectionName("bench-skiff-client"));
    if (!handler.equals("pool") && !handler.equals("nonBlocking")) {
      throw new IllegalArgumentException("handler must be pool or nonBlocking: " + handler);
    }
    Endpoint<Echo, Echo> echo = Endpoint.of(Bench.ENDPOINT, Echo.class, Echo.class, (request, ctx) -> request);
    ServerBuilder sb =
        Server.builder(Bench.SERVICE)
            .transport(serverTransport)
            .endpoint(handler.equals("nonBlocking") ? echo.asNonBlocking() : echo);
    Client.Builder cb = Client.builder().transport(clientTransport).name("bench.caller");
    if (traceRate > 0) {
      spanConsumer =
          clientTransport.subscribe(SpanSink.TOPIC_PREFIX + "#", "bench.trace", (topic, type, body, sender) -> spansConsumed.incrementAndGet());
      serverTracing = Tracing.builder(Bench.SERVICE).transport(serverTransport).sampleRate(traceRate).build().start();
      clientTracing = Tracing.builder("bench.caller").transport(clientTransport).sampleRate(traceRate).build().start();
      sb.observer(serverTracing);
      cb.observer(clientTracing);
    }
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
    if (traceRate > 0) {
      clientTracing.close();
      serverTracing.close();
      spanConsumer.close();
      System.err.printf("tracing at %s: %d spans shipped, %d dropped, %d consumed%n", traceRate,
          clientTracing.shippedSpans() + serverTracing.shippedSpans(),
          clientTracing.droppedSpans() + serverTracing.droppedSpans(), spansConsumed.get());
    }
    clientTransport.close();
    serverTransport.close();
  }
}
