package dev.skiff.benchmarks;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.benchmarks.proto.Echo;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.client.RetryPolicy;
import dev.skiff.platform.config.QueueType;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.security.Access;
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
 *
 * <p>{@code identity} prices the checks of people's identities ({@code -p identity=off,on}):
 * {@code default} declares nothing on the echo endpoint ({@code Access.byDefault()}, which lets the
 * benchmark's client in as a proven service) and sends no token; {@code off} declares it
 * {@code withAccess(Access.anyone())} and sends no token; {@code on} declares it
 * {@code withAccess(Access.signedIn())} and sends, with every call, the session token of a person who
 * signed in to a real login service running in this JVM on the same broker ({@link BenchLogin}); the
 * server checks it with its default verifier ({@code LoginTokenVerifier}, keys fetched from that login
 * service), and the trial ends by printing how many signature checks and cache hits that took.
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

  /**
   * Whether the client publishes with publisher confirms ({@code AmqpOptions.withPublisherConfirms}, off
   * by default since 2026-12-04; {@code -p confirms=true}: the default before).
   */
  @Param({"false"})
  public boolean confirms;

  /** The sampling rate of tracing, 0 to 1 ({@code -p traceRate=0.01,1}); 0: no tracing. */
  @Param({"0"})
  public double traceRate;

  /** {@code default}, {@code off} or {@code on} ({@code -p identity=off,on}): see the class comment. */
  @Param({"default"})
  public String identity;

  /**
   * How the echo service's request queue is kept ({@code AmqpOptions.withQueueType}); null: the default
   * for the broker URI. Set by {@link Interleaved}'s {@code queues} mode only.
   */
  QueueType queueType;

  /** The service the echo server runs as: {@link Bench#SERVICE} unless two set-ups share a JVM ({@link Interleaved}). */
  String service = Bench.SERVICE;

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
    s.identity = "default";
    return s;
  }

  private Tracing serverTracing;
  private Tracing clientTracing;
  private Transport.Subscription spanConsumer;
  /** Spans that reached the consumer. */
  final AtomicLong spansConsumed = new AtomicLong();

  /** What the benchmarks call through: the client, or (identity on) its view that sends the person's token. */
  Client client;
  private Client rootClient;
  private BenchLogin login;
  private final MetricRegistry serverMetrics = new MetricRegistry();
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
    boolean signedIn = identity.equals("on");
    if (!signedIn && !identity.equals("off") && !identity.equals("default")) {
      throw new IllegalArgumentException("identity must be default, off or on: " + identity);
    }
    if (signedIn && lean) {
      // without user_id, the server's calls to the login service (revocations: services only) are refused
      throw new IllegalArgumentException("identity=on needs the asserted user_id: not with profile=lean");
    }
    AmqpOptions options =
        AmqpOptions.of(Bench.brokerUri())
            .withReplyMode(AmqpOptions.ReplyMode.valueOf(replyMode))
            .withAssertUserId(!lean || !replyMode.equals("REPLY_QUEUE"))
            .withMessageTtl(messageTtl)
            .withPublisherConfirms(confirms);
    if (queueType != null) {
      options = options.withQueueType(queueType);
    }
    serverTransport = AmqpTransport.connect(options.withConnectionName("bench-skiff-server"));
    clientTransport = AmqpTransport.connect(options.withConnectionName("bench-skiff-client"));
    if (!handler.equals("pool") && !handler.equals("nonBlocking")) {
      throw new IllegalArgumentException("handler must be pool or nonBlocking: " + handler);
    }
    Endpoint<Echo, Echo> echo = Endpoint.of(Bench.ENDPOINT, Echo.class, Echo.class, (request, ctx) -> request);
    if (identity.equals("off")) {
      echo = echo.withAccess(Access.anyone());
    } else if (signedIn) {
      echo = echo.withAccess(Access.signedIn());
      login = BenchLogin.start(Bench.brokerUri());
    }
    ServerBuilder sb =
        Server.builder(service)
            .transport(serverTransport)
            .metrics(serverMetrics)
            .endpoint(handler.equals("nonBlocking") ? echo.asNonBlocking() : echo);
    Client.Builder cb = Client.builder().transport(clientTransport).name("bench.caller");
    if (traceRate > 0) {
      spanConsumer =
          clientTransport.subscribe(SpanSink.TOPIC_PREFIX + "#", "bench.trace", (topic, type, body, sender) -> spansConsumed.incrementAndGet());
      serverTracing = Tracing.builder(service).transport(serverTransport).sampleRate(traceRate).build().start();
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
    rootClient = cb.build();
    client = signedIn ? rootClient.withScope(CallScope.forUser(login.token())) : rootClient;
    Bench.checkEcho(client.call(service, Bench.ENDPOINT, Bench.PAYLOAD, Echo.class), "skiff over amqp");
  }

  /**
   * @return what the echo server's token verifier did so far: signatures checked, cache hits, tokens
   *     refused (its {@code skiff.tokens.*} counters); all 0 when no token came
   */
  String tokenCounts() {
    long refused = serverMetrics.getCounters((name, metric) -> name.startsWith("skiff.tokens.refused."))
        .values().stream().mapToLong(c -> c.getCount()).sum();
    return count("skiff.tokens.verified") + " signature checks, " + count("skiff.tokens.cache-hits") + " cache hits, "
        + refused + " refused";
  }

  private long count(String name) {
    var c = serverMetrics.getCounters().get(name);
    return c == null ? 0 : c.getCount();
  }

  /** Closes everything. */
  @TearDown(Level.Trial)
  public void stop() {
    rootClient.close();
    server.close();
    if (login != null) {
      System.err.printf("identity on: the server's token verifier made %s%n", tokenCounts());
      login.close();
    }
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
