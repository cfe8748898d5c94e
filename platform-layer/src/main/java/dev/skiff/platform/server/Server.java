package dev.skiff.platform.server;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import com.google.protobuf.Message;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.CallScope;
import dev.skiff.platform.client.Client;
import dev.skiff.platform.config.Settings;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.platform.health.HealthChecks;
import dev.skiff.platform.health.ServiceMonitor;
import dev.skiff.platform.internal.BusySweep;
import dev.skiff.platform.internal.Codec;
import dev.skiff.platform.internal.Ids;
import dev.skiff.platform.internal.Observers;
import dev.skiff.platform.metrics.MonitoringOptions;
import dev.skiff.platform.metrics.RpcMetrics;
import dev.skiff.platform.observe.RpcObserver;
import dev.skiff.platform.observe.ServerEvent;
import dev.skiff.platform.internal.TraceContext;
import dev.skiff.platform.transport.ContentTypes;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import dev.skiff.platform.transport.amqp.AmqpTransport;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running instance of a service: its endpoints bound to a transport, its handlers on a bounded pool.
 *
 * <pre>{@code
 * Server server = Server.builder("com.example.greeter")
 *     .version("1.0.0")
 *     .transport(AmqpTransport.connect(uri))
 *     .endpoint(Endpoint.of("hello", HelloRequest.class, HelloResponse.class,
 *         (req, ctx) -> HelloResponse.newBuilder().setGreeting("Hello, " + req.getName()).build()))
 *     .build()
 *     .start();
 * }</pre>
 *
 * <p>Per request the server checks the deadline (work whose deadline has passed is dropped, never
 * started, and counted), decodes the body (malformed: BAD_REQUEST), finds the endpoint (unknown:
 * NOT_FOUND), runs the handler, and replies. A handler that throws answers with an error; one that
 * overruns the deadline is answered with TIMEOUT and interrupted, and its thread is replaced so the
 * service keeps its capacity.
 *
 * <p>{@link #close()} drains: it stops taking requests, gives back those not started (another instance
 * takes them), lets running ones finish within the drain grace, answers the rest UNAVAILABLE, then
 * closes. Thread-safe; lifecycle: {@code build() -> start() -> close()}, each at most once.
 *
 * <p>Every server is monitored with no code from its author: per-endpoint metrics (unless switched off,
 * see {@link MonitoringOptions}), built-in healthchecks (broker, configuration, capacity, one per
 * endpoint against its {@link Endpoint.Sla}), and its health and a metrics summary published on the
 * topic {@code health.SERVICE} (see {@link ServiceMonitor}). Add checks with
 * {@link Builder#healthCheck(String, HealthCheck)} or, at run time, {@link #health()}.
 */
public final class Server implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Server.class);
  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]*(\\.[a-z0-9][a-z0-9_-]*)*");

  /**
   * How long past its deadline a request may run before the server answers it TIMEOUT and interrupts
   * its handler. The caller has stopped waiting at the deadline itself; the grace keeps the server's
   * answer from racing the caller's own timeout.
   */
  static final Duration OVERRUN_GRACE = Duration.ofMillis(100);
  /**
   * How often the watchdog looks for requests past their deadline while requests are in flight. One
   * periodic sweep over the requests in flight, rather than a timer per request, so that no thread is
   * woken per request; and none while the server is idle, so that an idle service wakes no thread at all
   * (a sweep every 10 ms in each of 600 idle servers in one JVM took more than a core).
   */
  static final long WATCHDOG_PERIOD_MILLIS = 10;

  private enum State { NEW, RUNNING, CLOSING, CLOSED }

  private final String name;
  private final String version;
  private final String description;
  private final String instanceId;
  private final Transport transport;
  private final boolean ownsTransport;
  private final int concurrency;
  private final int prefetch;
  private final int maxMessageBytes;
  private final Duration drainGrace;
  private final Duration defaultDeadline;
  private final int maxQueueDepth;
  private final Duration maxQueueWait;
  private final AnswerCache answered;
  private final Map<String, Work> inProgress = new java.util.concurrent.ConcurrentHashMap<>();
  private final Map<String, Endpoint<?, ?>> endpoints;
  private final MetricRegistry metrics;
  private final Clock clock;
  private final Client client;
  private final Observers observers;
  private final HealthChecks health;
  private final ServiceMonitor monitor;

  private final AtomicReference<State> state = new AtomicReference<>(State.NEW);
  private final ThreadPoolExecutor pool;
  private final HandlerQueue handlerQueue;
  private final Map<String, HandlerQueue.Pace> paces = new java.util.HashMap<>();
  private final ScheduledThreadPoolExecutor watchdog;
  /** The watchdog's passes, scheduled only while requests are in flight. */
  private final BusySweep sweep;
  private final Set<Work> running = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final CountDownLatch terminated = new CountDownLatch(1);
  private final Object poolLock = new Object();
  private int compensation;
  private volatile Transport.ServerBinding binding;
  private final Duration heartbeat;
  private volatile dev.skiff.platform.discovery.Announcer announcer;

  private final Counter droppedExpired;
  private final Counter overruns;
  private final Counter tooLarge;
  private final Counter dedupeHits;
  private final Counter unknownOutcome;
  private final Counter queueWaitRejected;
  private final Map<String, Timer> timers = new java.util.concurrent.ConcurrentHashMap<>();

  private Server(Builder b) {
    this.name = b.name;
    this.version = b.version;
    this.description = b.description;
    this.instanceId = b.instanceId;
    this.transport = b.transport;
    this.ownsTransport = b.ownsTransport;
    this.concurrency = b.concurrency;
    this.prefetch = b.prefetch == 0 ? 2 * b.concurrency : b.prefetch;
    this.maxMessageBytes = b.maxMessageBytes;
    this.drainGrace = b.drainGrace;
    this.defaultDeadline = b.defaultDeadline;
    this.maxQueueDepth = b.maxQueueDepth;
    this.maxQueueWait = b.maxQueueWait;
    this.heartbeat = b.announce ? b.heartbeat : null;
    this.answered = new AnswerCache(b.dedupeWindow.toMillis(), b.dedupeMaxBytes);
    this.endpoints = Map.copyOf(b.endpoints);
    this.metrics = b.metrics == null ? new MetricRegistry() : b.metrics;
    this.clock = b.clock;
    RpcMetrics rpc = b.monitoring.metricsEnabled() ? new RpcMetrics(metrics, endpoints.keySet()) : null;
    List<RpcObserver> observed = new ArrayList<>(b.observers);
    if (rpc != null) {
      observed.add(rpc);
    }
    this.observers = new Observers(observed);
    AtomicInteger n = new AtomicInteger();
    this.pool =
        new ThreadPoolExecutor(
            concurrency,
            concurrency,
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            r -> {
              Thread t = new Thread(r, "skiff-handler-" + name + "-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    this.handlerQueue = new HandlerQueue(pool);
    this.watchdog =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, "skiff-watchdog-" + name);
              t.setDaemon(true);
              return t;
            });
    this.sweep = new BusySweep(watchdog, WATCHDOG_PERIOD_MILLIS, this::sweep, () -> !running.isEmpty());
    this.client =
        Client.builder()
            .transport(transport)
            .name(name)
            .instanceId(instanceId)
            .defaultTimeout(b.clientTimeout)
            .maxMessageBytes(maxMessageBytes)
            .metrics(metrics)
            .clock(clock)
            .observers(observed)
            .build();
    this.droppedExpired = metrics.counter("skiff.server.dropped-expired");
    this.overruns = metrics.counter("skiff.server.handler-overruns");
    this.tooLarge = metrics.counter("skiff.server.too-large");
    this.dedupeHits = metrics.counter("skiff.server.dedupe-hits");
    this.unknownOutcome = metrics.counter("skiff.server.unknown-outcome");
    this.queueWaitRejected = metrics.counter("skiff.server.queue-wait-rejected");
    metrics.gauge("skiff.server.dedupe-entries", () -> () -> answered.size(clock.millis()));
    metrics.gauge("skiff.server.in-flight", () -> running::size);
    metrics.gauge("skiff.server.queued", () -> handlerQueue::size);
    for (String e : endpoints.keySet()) {
      timers.put(e, metrics.timer("skiff.server.endpoint." + e));
      HandlerQueue.Pace pace = new HandlerQueue.Pace();
      paces.put(e, pace);
      // 1 while the endpoint's requests run in batches on an awake thread (HandlerQueue), 0 while each wakes one
      metrics.gauge("skiff.server.endpoint." + e + ".batched", () -> () -> pace.batched() ? 1 : 0);
    }
    this.health = b.health;
    String config = (b.settingsApplied ? "settings from the environment" : "settings from code")
        + ": concurrency " + concurrency + ", prefetch " + prefetch + ", max message " + maxMessageBytes
        + " bytes, drain grace " + drainGrace.toMillis() + " ms, metrics " + (rpc != null ? "on" : "off");
    this.monitor =
        new ServiceMonitor(
            new ServiceMonitor.Service(name, version, description, instanceId, endpoints.values(), concurrency, prefetch, config),
            transport, metrics, health, b.monitoring, rpc, clock);
  }

  /**
   * A builder for a service.
   *
   * @param name the service's dotted name, e.g. {@code com.example.greeter} (lower case letters, digits,
   *     '_' and '-', in dot-separated parts)
   * @return the builder
   */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /**
   * Starts taking requests.
   *
   * @return this
   * @throws IllegalStateException if started before
   * @throws SkiffException UNAVAILABLE when the transport cannot bind the service
   */
  public Server start() {
    if (!state.compareAndSet(State.NEW, State.RUNNING)) {
      throw new IllegalStateException("server " + name + " was already started");
    }
    try {
      binding =
          transport.bind(name, instanceId, new Transport.BindOptions(prefetch, maxQueueDepth, version), this::dispatch);
    } catch (RuntimeException e) {
      state.set(State.CLOSED);
      shutdownResources();
      throw e;
    }
    monitor.start();
    if (heartbeat != null) {
      announcer = new dev.skiff.platform.discovery.Announcer(transport, announcement(), heartbeat, clock).start();
    }
    log.info("{} {} instance {} serving {} on {}", name, version, instanceId, endpoints.keySet(), transport.describe());
    return this;
  }

  private dev.skiff.proto.v1.InstanceAnnouncement announcement() {
    String host;
    try {
      host = java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      host = "unknown";
    }
    dev.skiff.proto.v1.InstanceAnnouncement.Builder a =
        dev.skiff.proto.v1.InstanceAnnouncement.newBuilder()
            .setService(name)
            .setVersion(version)
            .setInstance(instanceId)
            .setHost(host)
            .setStartedMs(clock.millis())
            .setDescription(description);
    for (Endpoint<?, ?> e : endpoints.values()) {
      a.addEndpoints(
          dev.skiff.proto.v1.EndpointInfo.newBuilder()
              .setName(e.name())
              .setRequestType(e.requestPrototype().getDescriptorForType().getFullName())
              .setResponseType(
                  com.google.protobuf.Internal.getDefaultInstance(e.responseType()).getDescriptorForType().getFullName())
              .setTimeoutMs(defaultDeadline.toMillis())
              .setIdempotent(e.idempotent()));
    }
    return a.build();
  }

  /** @return the service's name */
  public String name() {
    return name;
  }

  /** @return the version this instance reports */
  public String version() {
    return version;
  }

  /** @return the service's description */
  public String description() {
    return description;
  }

  /** @return this instance's id */
  public String instanceId() {
    return instanceId;
  }

  /** @return the endpoints, by name */
  public Map<String, Endpoint<?, ?>> endpoints() {
    return endpoints;
  }

  /** @return the registry holding this server's (and its client's) metrics */
  public MetricRegistry metrics() {
    return metrics;
  }

  /**
   * This service's healthchecks: where service-layer clients and the author register checks at run
   * time (see {@link HealthChecks}).
   *
   * @return the registry
   */
  public HealthChecks health() {
    return health;
  }

  /** @return the monitor that runs the checks and publishes this instance's health */
  public ServiceMonitor monitor() {
    return monitor;
  }

  /** @return a client that calls as this service; handlers should prefer {@link RequestContext#client()} */
  public Client client() {
    return client;
  }

  /** @return whether the server has been closed */
  public boolean isClosed() {
    return state.get() == State.CLOSED;
  }

  /**
   * Blocks until the server is closed.
   *
   * @throws InterruptedException if interrupted while waiting
   */
  public void awaitTermination() throws InterruptedException {
    terminated.await();
  }

  private void dispatch(RequestMessage req, Transport.Delivery delivery) {
    if (state.get() != State.RUNNING) {
      settleUnstarted(req, delivery);
      return;
    }
    long now = clock.millis();
    Work w = new Work(req, delivery);
    if (req.deadlineEpochMillis() != 0 && req.deadlineEpochMillis() <= now) {
      droppedExpired.inc();
      delivery.ack();
      w.observe(ErrorCode.TIMEOUT, false);
      return;
    }
    if (req.body().length > maxMessageBytes) {
      tooLarge.inc();
      w.settleError(
          new SkiffException(
                  ErrorCode.BAD_REQUEST,
                  "request of " + req.body().length + " bytes is over the message size limit of "
                      + maxMessageBytes + " bytes of " + name)
              .withContext("limit", Integer.toString(maxMessageBytes)));
      return;
    }
    if (waitedTooLong(w, now)) {
      return;
    }
    Endpoint<?, ?> endpoint = endpoints.get(req.endpoint());
    if (endpoint == null) {
      w.settleError(
          new SkiffException(
                  ErrorCode.NOT_FOUND,
                  "service " + name + " has no endpoint '" + req.endpoint() + "' (it has: "
                      + String.join(", ", new java.util.TreeSet<>(endpoints.keySet())) + ")")
              .withContext("endpoint", req.endpoint()));
      return;
    }
    w.endpoint = endpoint;
    if (!req.requestId().isEmpty()) {
      w.key = endpoint.name() + "/" + req.requestId() + "/" + w.replyType();
      AnswerCache.Answer cached = answered.get(w.key, now);
      if (cached != null) {
        dedupeHits.inc();
        w.replyFromCache(cached);
        return;
      }
      Work first = inProgress.putIfAbsent(w.key, w);
      if (first != null && first.follow(w)) {
        dedupeHits.inc();
        return;
      }
    }
    if (delivery.redelivered() && !endpoint.idempotent()) {
      unknownOutcome.inc();
      w.settleError(
          new SkiffException(
                  ErrorCode.UNKNOWN_OUTCOME,
                  "the request reached an instance of " + name + " that went away before answering; "
                      + name + "/" + endpoint.name() + " is not idempotent, so it was not run again: it may or may not have been carried out")
              .withContext("request_id", req.requestId()));
      return;
    }
    long deadline = req.deadlineEpochMillis() == 0 ? now + defaultDeadline.toMillis() : req.deadlineEpochMillis();
    w.deadline = deadline;
    running.add(w);
    sweep.arm();
    if (endpoint.nonBlocking()) {
      w.inline = true;
      w.run();
      return;
    }
    try {
      handlerQueue.submit(w, paces.get(endpoint.name()));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      running.remove(w);
      settleUnstarted(req, delivery);
    }
  }

  /**
   * The watchdog's pass: overruns every request in flight past its deadline plus the grace, and wakes
   * handler threads for waiting requests if the awake ones have stopped taking them.
   */
  private void sweep() {
    handlerQueue.rescue();
    long cutoff = clock.millis() - OVERRUN_GRACE.toMillis();
    for (Work w : running) {
      if (w.deadline <= cutoff) {
        try {
          w.overrun();
        } catch (RuntimeException e) {
          log.warn("{}: the watchdog failed to time out request {}", name, w.req.requestId(), e);
        }
      }
    }
  }

  /**
   * Answers CAPACITY if the request waited (in the broker's queue or this server's) longer than
   * {@code maxQueueWait}.
   *
   * @return whether it did
   */
  private boolean waitedTooLong(Work w, long now) {
    long sent = w.req.sentEpochMillis();
    if (maxQueueWait == null || sent <= 0 || now - sent <= maxQueueWait.toMillis()) {
      return false;
    }
    queueWaitRejected.inc();
    w.settleError(
        new SkiffException(
                ErrorCode.CAPACITY,
                name + " is behind: the request waited " + (now - sent) + " ms in its queue, over the limit of "
                    + maxQueueWait.toMillis() + " ms; back off and retry later")
            .withContext("limit_ms", Long.toString(maxQueueWait.toMillis())));
    return true;
  }

  /** A request that will not run here: another instance gets it, or (if it was for us alone) an error. */
  private void settleUnstarted(RequestMessage req, Transport.Delivery delivery) {
    if (delivery.instanceAddressed()) {
      Work w = new Work(req, delivery);
      w.settleError(new SkiffException(ErrorCode.UNAVAILABLE, "instance " + instanceId + " of " + name + " is shutting down"));
    } else {
      delivery.requeue();
    }
  }

  /** @return whether the pool changed (not when +1 would pass the cap) */
  private boolean compensate(int delta) {
    synchronized (poolLock) {
      if (delta > 0 && compensation >= concurrency) {
        log.warn("{}: {} handlers are stuck past their deadline; not adding more threads", name, compensation);
        return false;
      }
      compensation += delta;
      int size = concurrency + compensation;
      if (delta > 0) {
        pool.setMaximumPoolSize(size);
        pool.setCorePoolSize(size);
        handlerQueue.fill(); // the new thread takes a waiting request
      } else {
        pool.setCorePoolSize(size);
        pool.setMaximumPoolSize(size);
      }
      return true;
    }
  }

  /**
   * Stops the server, draining in-flight requests for up to the drain grace (see the class comment).
   * Idempotent; returns when the server is closed.
   */
  @Override
  public void close() {
    if (state.compareAndSet(State.NEW, State.CLOSED)) {
      shutdownResources();
      return;
    }
    if (!state.compareAndSet(State.RUNNING, State.CLOSING)) {
      awaitQuietly();
      return;
    }
    dev.skiff.platform.discovery.Announcer a = announcer;
    if (a != null) {
      a.close();
    }
    Transport.ServerBinding b = binding;
    b.stopConsuming();
    List<Runnable> unstarted = new ArrayList<>();
    handlerQueue.drainTo(unstarted);
    for (Runnable r : unstarted) {
      ((Work) r).settleUnrun(true);
    }
    pool.shutdown();
    try {
      if (!pool.awaitTermination(drainGrace.toMillis(), TimeUnit.MILLISECONDS)) {
        for (Work w : List.copyOf(running)) {
          w.settleError(
              new SkiffException(
                  ErrorCode.UNAVAILABLE, name + " stopped before the request finished (drain grace " + drainGrace + ")"));
        }
        pool.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      pool.shutdownNow();
    }
    b.close();
    state.set(State.CLOSED);
    shutdownResources();
    log.info("{} instance {} stopped", name, instanceId);
  }

  private void shutdownResources() {
    monitor.close();
    pool.shutdownNow();
    watchdog.shutdownNow();
    client.close();
    if (ownsTransport) {
      transport.close();
    }
    terminated.countDown();
  }

  private void awaitQuietly() {
    try {
      terminated.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static List<Work> concat(Work first, List<Work> rest) {
    List<Work> all = new ArrayList<>(rest.size() + 1);
    all.add(first);
    all.addAll(rest);
    return all;
  }

  /** One request on its way through the server; settled (answered and acked) exactly once. */
  private final class Work implements Runnable {
    final RequestMessage req;
    final Transport.Delivery delivery;
    final AtomicBoolean settled = new AtomicBoolean();
    Endpoint<?, ?> endpoint;
    String key;
    volatile long deadline;
    private List<Work> followers;
    private AnswerCache.Answer outcome;
    private boolean abandoned;
    private volatile boolean ran;
    final long receivedNanos;
    final long receivedMicros;
    final TraceContext trace;
    final String parentSpanId;
    volatile Thread runner;
    volatile boolean compensated;
    /** Runs on the delivery thread ({@link Endpoint#asNonBlocking()}): never interrupted. */
    boolean inline;

    Work(RequestMessage req, Transport.Delivery delivery) {
      this.req = req;
      this.delivery = delivery;
      this.receivedNanos = System.nanoTime();
      this.receivedMicros = clock.millis() * 1000;
      TraceContext incoming = TraceContext.parse(req.traceparent());
      this.trace = incoming == null ? TraceContext.newRoot(false) : incoming.child();
      this.parentSpanId = incoming == null ? "" : incoming.spanId();
    }

    boolean claim() {
      return settled.compareAndSet(false, true);
    }

    @Override
    public void run() {
      runner = inline ? null : Thread.currentThread();
      if (settled.get()) {
        runner = null;
        return;
      }
      try {
        long now = clock.millis();
        if (now >= deadline) {
          settleUnrun(false);
          return;
        }
        if (waitedTooLong(this, now)) {
          return;
        }
        Timer.Context timing = timers.get(endpoint.name()).time();
        try {
          byte[] body = handle(endpoint);
          if (body.length > maxMessageBytes) {
            throw new SkiffException(
                ErrorCode.INTERNAL,
                "the response of " + name + "/" + endpoint.name() + " (" + body.length
                    + " bytes) is over the message size limit of " + maxMessageBytes + " bytes");
          }
          settle(null, body, replyType());
        } finally {
          timing.stop();
        }
      } catch (SkiffException e) {
        settleError(e);
      } catch (Throwable t) {
        if (settled.get()) {
          log.debug("{}/{} request {} failed after it was answered: {}", name, req.endpoint(), req.requestId(), t.toString());
        } else {
          log.warn("{}/{} request {} failed", name, req.endpoint(), req.requestId(), t);
        }
        settleError(
            new SkiffException(
                ErrorCode.INTERNAL,
                "internal error in " + name + "/" + req.endpoint() + " (the service's log has the details under request id "
                    + req.requestId() + ")"));
      } finally {
        runner = null;
        Thread.interrupted();
        running.remove(this);
        if (compensated) {
          compensate(-1);
        }
      }
    }

    private <Q extends Message, R extends Message> byte[] handle(Endpoint<Q, R> e) {
      Q request = Codec.decode(req.body(), req.contentType(), e.requestPrototype());
      ran = true;
      Instant dl = Instant.ofEpochMilli(deadline);
      RequestContext ctx =
          new RequestContext(
              req.requestId(), name, e.name(), req.fromService(), req.fromInstance(), req.userId(), dl,
              trace.traceId(), trace.spanId(), parentSpanId, trace.sampled(),
              client.withScope(new CallScope(dl, trace.header())), clock);
      R response = e.handler().handle(request, ctx);
      if (response == null) {
        throw new SkiffException(ErrorCode.INTERNAL, "the handler of " + name + "/" + e.name() + " returned no response");
      }
      return Codec.encode(response, replyType());
    }

    String replyType() {
      return ContentTypes.isJson(req.accept()) ? ContentTypes.JSON : ContentTypes.PROTOBUF;
    }

    void settleError(SkiffException e) {
      SkiffException located = e.withOrigin(name, req.endpoint(), instanceId, req.requestId());
      settle(e.code(), Codec.encode(located.toProto(), replyType()), replyType());
    }

    private void settle(ErrorCode error, byte[] body, String contentType) {
      if (!claim()) {
        return;
      }
      running.remove(this);
      AnswerCache.Answer result = new AnswerCache.Answer(error, contentType, body);
      List<Work> waiting = List.of();
      if (key != null) {
        if (error == null || !error.isRetryable()) {
          answered.put(key, error, contentType, body, clock.millis());
        }
        synchronized (this) {
          outcome = result;
          if (followers != null) {
            waiting = followers;
          }
        }
        inProgress.remove(key, this);
      }
      replyFromCache(result);
      for (Work f : waiting) {
        f.replyFromCache(result);
      }
    }

    /**
     * Settles this request without running it: {@code drop} (its deadline passed: acknowledge, no reply)
     * or hand it back (the server is closing). Duplicates waiting on it are settled the same way.
     *
     * @param handBack true to hand back, false to drop
     * @return whether this call settled it
     */
    boolean settleUnrun(boolean handBack) {
      if (!claim()) {
        return false;
      }
      running.remove(this);
      List<Work> waiting;
      synchronized (this) {
        abandoned = true;
        waiting = followers == null ? List.of() : followers;
      }
      if (key != null) {
        inProgress.remove(key, this);
      }
      for (Work w : concat(this, waiting)) {
        if (handBack) {
          settleUnstarted(w.req, w.delivery);
        } else {
          droppedExpired.inc();
          w.delivery.ack();
          w.observe(ErrorCode.TIMEOUT, false);
        }
      }
      return true;
    }

    /** Answers with a reply made earlier for the same request id. */
    void replyFromCache(AnswerCache.Answer r) {
      settled.set(true);
      // the span ends as the reply leaves: a caller's span then always encloses it
      long nanos = System.nanoTime() - receivedNanos;
      delivery.replyAndAck(
          new ReplyMessage(
              req.correlationId(), r.ok(), r.contentType(), name, version, instanceId,
              endpoint != null && endpoint.idempotent(), r.body()));
      observe(r.error(), true, nanos);
    }

    /** Tells the observers how this request ended. */
    void observe(ErrorCode error, boolean replied) {
      observe(error, replied, System.nanoTime() - receivedNanos);
    }

    private void observe(ErrorCode error, boolean replied, long nanos) {
      if (observers.isEmpty()) {
        return;
      }
      observers.onServerRequest(
          new ServerEvent(
              name, req.endpoint(), instanceId, version, req.requestId(), req.fromService(), trace.traceId(),
              trace.spanId(), parentSpanId, trace.sampled(), receivedMicros, nanos, ran,
              error, replied));
    }

    /**
     * Makes a duplicate of this request (same request id, arriving while this one runs) wait for this
     * one's answer instead of running the handler again.
     *
     * @return false if this one has already finished (the caller then answers from the cache)
     */
    synchronized boolean follow(Work duplicate) {
      if (outcome != null) {
        duplicate.replyFromCache(outcome);
        return true;
      }
      if (abandoned) {
        return false;
      }
      if (followers == null) {
        followers = new ArrayList<>(2);
      }
      followers.add(duplicate);
      return true;
    }

    /** The deadline (plus {@link #OVERRUN_GRACE}) passed before the request finished. */
    void overrun() {
      if (settled.get()) {
        return;
      }
      if (runner == null && handlerQueue.remove(this)) {
        // never started: the caller has given up, so it is dropped like any expired request
        settleUnrun(false);
        return;
      }
      overruns.inc();
      settleError(
          new SkiffException(
              ErrorCode.TIMEOUT, "the handler of " + name + "/" + req.endpoint() + " did not finish before the deadline"));
      Thread t = runner;
      if (t != null) {
        // only a thread that was added is taken away again when this handler ends
        compensated = compensate(+1);
        t.interrupt();
      }
    }
  }

  /** Builds a {@link Server}. */
  public static final class Builder {
    private final String name;
    private String version = "0.0.0";
    private String description = "";
    private String instanceId = Ids.random32();
    private Transport transport;
    private boolean ownsTransport;
    private int concurrency = 16;
    private int prefetch;
    private int maxMessageBytes = Settings.DEFAULT_MAX_MESSAGE_BYTES;
    private Duration drainGrace = Duration.ofSeconds(10);
    private Duration defaultDeadline = Duration.ofSeconds(30);
    private Duration clientTimeout = Duration.ofSeconds(5);
    private int maxQueueDepth;
    private Duration maxQueueWait;
    private Duration dedupeWindow = Duration.ofMinutes(1);
    private long dedupeMaxBytes = 16L << 20;
    private MetricRegistry metrics;
    private boolean announce = true;
    private Duration heartbeat = dev.skiff.platform.discovery.Announcer.DEFAULT_HEARTBEAT;
    private Clock clock = Clock.systemUTC();
    private final Map<String, Endpoint<?, ?>> endpoints = new LinkedHashMap<>();
    private final List<RpcObserver> observers = new ArrayList<>();
    private final HealthChecks health = new HealthChecks();
    private MonitoringOptions monitoring;
    private boolean settingsApplied;

    private Builder(String name) {
      Objects.requireNonNull(name, "name");
      if (!NAME.matcher(name).matches()) {
        throw new IllegalArgumentException(
            "invalid service name '" + name + "': use dot-separated lower-case parts, e.g. com.example.greeter");
      }
      this.name = name;
    }

    /**
     * Whether the instance announces itself for discovery (docs/routing.md): on start, at every
     * heartbeat, and on a clean stop. Default on; with no discovery service running the announcements
     * are dropped.
     *
     * @param announce false to stay silent
     * @return this
     */
    public Builder announce(boolean announce) {
      this.announce = announce;
      return this;
    }

    /**
     * How often the instance announces itself (default 2 s); discovery forgets an instance after
     * three missed heartbeats, so this also sets how soon a killed instance leaves the registry.
     *
     * @param interval the heartbeat interval
     * @return this
     */
    public Builder heartbeat(Duration interval) {
      Objects.requireNonNull(interval, "interval");
      if (interval.isNegative() || interval.isZero()) {
        throw new IllegalArgumentException("heartbeat must be positive: " + interval);
      }
      this.heartbeat = interval;
      return this;
    }

    /** @param version the version this instance reports, e.g. {@code 1.2.0} @return this */
    public Builder version(String version) {
      Objects.requireNonNull(version, "version");
      if (!Transport.VERSION.matcher(version).matches()) {
        throw new IllegalArgumentException(
            "invalid version '" + version + "': use letters, digits, '.', '_', '+' and '-', e.g. 1.2.0");
      }
      this.version = version;
      return this;
    }

    /** @param description what the service does, in a sentence @return this */
    public Builder description(String description) {
      this.description = Objects.requireNonNull(description, "description");
      return this;
    }

    /** @param instanceId this instance's id (default: random) @return this */
    public Builder instanceId(String instanceId) {
      this.instanceId = Objects.requireNonNull(instanceId, "instanceId");
      return this;
    }

    /**
     * The transport to serve on; the server does not close it unless {@link #ownTransport()} is called.
     *
     * @param transport the transport
     * @return this
     */
    public Builder transport(Transport transport) {
      this.transport = Objects.requireNonNull(transport, "transport");
      return this;
    }

    /**
     * Connects to a RabbitMQ broker; the server owns the connection and closes it.
     *
     * @param uri the broker URI
     * @return this
     */
    public Builder amqp(String uri) {
      this.transport = AmqpTransport.connect(uri);
      this.ownsTransport = true;
      return this;
    }

    /** @return this, with the server closing its transport when it closes */
    public Builder ownTransport() {
      this.ownsTransport = true;
      return this;
    }

    /**
     * Applies the environment's settings ({@link Settings}): version override, instance id, bounds and
     * timeouts. The broker URI is not applied here: pass it to {@link #amqp(String)}.
     *
     * @param s the settings
     * @return this
     */
    public Builder settings(Settings s) {
      s.serviceVersion().ifPresent(this::version);
      s.instanceId().ifPresent(this::instanceId);
      concurrency(s.concurrency());
      prefetch(s.prefetch());
      maxMessageBytes(s.maxMessageBytes());
      clientTimeout(s.defaultTimeout());
      drainGrace(s.drainGrace());
      settingsApplied = true;
      heartbeat(s.heartbeat());
      return this;
    }

    /** @param n how many handlers run at once (default 16) @return this */
    public Builder concurrency(int n) {
      if (n <= 0) {
        throw new IllegalArgumentException("concurrency must be positive: " + n);
      }
      this.concurrency = n;
      return this;
    }

    /** @param n unsettled requests held per queue (default 2 × concurrency) @return this */
    public Builder prefetch(int n) {
      if (n <= 0) {
        throw new IllegalArgumentException("prefetch must be positive: " + n);
      }
      this.prefetch = n;
      return this;
    }

    /** @param bytes the largest request or response body (default 4 MiB) @return this */
    public Builder maxMessageBytes(int bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("maxMessageBytes must be positive: " + bytes);
      }
      this.maxMessageBytes = bytes;
      return this;
    }

    /** @param grace how long close() lets running requests finish (default 10 s) @return this */
    public Builder drainGrace(Duration grace) {
      if (grace.isNegative()) {
        throw new IllegalArgumentException("drainGrace must not be negative: " + grace);
      }
      this.drainGrace = grace;
      return this;
    }

    /** @param d the deadline given to requests that carry none (default 30 s) @return this */
    public Builder defaultDeadline(Duration d) {
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("defaultDeadline must be positive: " + d);
      }
      this.defaultDeadline = d;
      return this;
    }

    /** @param t the default timeout of calls this service makes (default 5 s) @return this */
    public Builder clientTimeout(Duration t) {
      if (t.isNegative() || t.isZero()) {
        throw new IllegalArgumentException("clientTimeout must be positive: " + t);
      }
      this.clientTimeout = t;
      return this;
    }

    /**
     * Bounds the service's queue: past this many waiting requests, new ones are refused at once and the
     * caller gets CAPACITY (RabbitMQ {@code x-max-length} with {@code reject-publish}). Fixed when the
     * service's queue is first created; every instance must declare the same value.
     *
     * @param depth the bound, or 0 for none (the default)
     * @return this
     */
    public Builder maxQueueDepth(int depth) {
      if (depth < 0) {
        throw new IllegalArgumentException("maxQueueDepth must not be negative: " + depth);
      }
      this.maxQueueDepth = depth;
      return this;
    }

    /**
     * Answers CAPACITY, without running the handler, to a request that waited longer than this in the
     * queue: the service is behind, and the caller learns it while it still has time to do something.
     *
     * @param wait the longest wait, or null for no bound (the default)
     * @return this
     */
    public Builder maxQueueWait(Duration wait) {
      if (wait != null && (wait.isNegative() || wait.isZero())) {
        throw new IllegalArgumentException("maxQueueWait must be positive: " + wait);
      }
      this.maxQueueWait = wait;
      return this;
    }

    /**
     * How long an answer is kept by request id, so that a retry or a redelivery of a request this
     * instance already answered gets the same answer without the handler running again.
     *
     * @param window how long (default 1 minute)
     * @param maxBytes the most memory the kept answers may take (default 16 MiB); the oldest go first
     * @return this
     */
    public Builder dedupe(Duration window, long maxBytes) {
      if (window.isNegative() || window.isZero() || maxBytes < 1024 || maxBytes > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException(
            "dedupe window must be positive and its size between 1 KiB and 2 GiB: " + window + ", " + maxBytes);
      }
      this.dedupeWindow = window;
      this.dedupeMaxBytes = maxBytes;
      return this;
    }

    /**
     * Adds an observer of every request this server finishes and every call its handlers make (for
     * metrics, tracing, health).
     *
     * @param observer the observer
     * @return this
     */
    public Builder observer(RpcObserver observer) {
      observers.add(Objects.requireNonNull(observer, "observer"));
      return this;
    }

    /**
     * Registers a healthcheck, run at the interval and reported with the priority it declares.
     *
     * @param name a name unique in this service
     * @param check the check
     * @return this
     * @throws IllegalArgumentException if the name is taken or invalid
     */
    public Builder healthCheck(String name, HealthCheck check) {
      health.register(name, check);
      return this;
    }

    /**
     * Sets how the server is monitored: metrics on or off, Graphite, how often health is published.
     * Default: {@link MonitoringOptions#fromEnvironment()} ({@code SKIFF_METRICS}, {@code SKIFF_GRAPHITE},
     * ...), read when the server is built.
     *
     * @param options the options
     * @return this
     */
    public Builder monitoring(MonitoringOptions options) {
      this.monitoring = Objects.requireNonNull(options, "options");
      return this;
    }

    /** @param metrics where metrics go (default: a registry of the server's own) @return this */
    public Builder metrics(MetricRegistry metrics) {
      this.metrics = Objects.requireNonNull(metrics, "metrics");
      return this;
    }

    /** @param clock the clock deadlines are measured by (for tests) @return this */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Adds an endpoint.
     *
     * @param endpoint the endpoint
     * @return this
     * @throws IllegalArgumentException if an endpoint of that name exists
     */
    public Builder endpoint(Endpoint<?, ?> endpoint) {
      if (endpoints.putIfAbsent(endpoint.name(), endpoint) != null) {
        throw new IllegalArgumentException("endpoint '" + endpoint.name() + "' is registered twice in " + name);
      }
      return this;
    }

    /**
     * Adds an endpoint.
     *
     * @param name the endpoint's name
     * @param requestType the request class
     * @param responseType the response class
     * @param handler the code
     * @param <Q> the request type
     * @param <R> the response type
     * @return this
     */
    public <Q extends Message, R extends Message> Builder endpoint(
        String name, Class<Q> requestType, Class<R> responseType, Handler<Q, R> handler) {
      return endpoint(Endpoint.of(name, requestType, responseType, handler));
    }

    /**
     * Builds the server (not started).
     *
     * @return the server
     */
    public Server build() {
      if (transport == null) {
        throw new IllegalStateException("a transport is required: call transport(...) or amqp(uri)");
      }
      if (endpoints.isEmpty()) {
        throw new IllegalStateException("service " + name + " has no endpoints");
      }
      if (monitoring == null) {
        monitoring = MonitoringOptions.fromEnvironment();
      }
      return new Server(this);
    }
  }
}
