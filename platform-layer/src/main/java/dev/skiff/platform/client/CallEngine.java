package dev.skiff.platform.client;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.Callee;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.Names;
import dev.skiff.platform.RpcProgress;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.internal.Codec;
import dev.skiff.platform.internal.Ids;
import dev.skiff.platform.internal.Observers;
import dev.skiff.platform.internal.Threads;
import dev.skiff.platform.internal.TraceContext;
import dev.skiff.platform.observe.ClientEvent;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends a client's calls (the shared state behind a {@link Client} and its scoped views): checks a call
 * and fixes its deadline and trace, then makes each attempt — through the endpoint's circuit breaker
 * ({@link Breakers}), onto the transport's channel, into the table of attempts waiting for replies
 * ({@link PendingCalls}) — and when an attempt fails, asks {@link Retries} whether and when to try
 * again, knowing what it has learned of the endpoint ({@link IdempotencyMemory}). Tells the observers of
 * every attempt.
 */
final class CallEngine {
  private static final Logger log = LoggerFactory.getLogger(Client.class);

  /**
   * How a client is made.
   *
   * @param transport where calls go
   * @param ownsTransport whether closing the client closes the transport
   * @param fromService the calling service ("" for a tool)
   * @param fromInstance the calling instance
   * @param defaultTimeout the timeout of calls that name none
   * @param maxMessageBytes the largest request or reply
   * @param maxInFlight the most attempts in flight
   * @param retryPolicy when to retry
   * @param breaker how the circuit breakers behave, or null for none
   * @param metrics where metrics go
   * @param clock the clock deadlines are measured by
   * @param observers told of every attempt
   */
  record Config(
      Transport transport,
      boolean ownsTransport,
      String fromService,
      String fromInstance,
      Duration defaultTimeout,
      int maxMessageBytes,
      int maxInFlight,
      RetryPolicy retryPolicy,
      BreakerOptions breaker,
      MetricRegistry metrics,
      Clock clock,
      Observers observers,
      ServiceIdentities identities) {}

  /** One call: its fixed parts, shared by all its attempts. */
  private record Call<T>(
      String service,
      String endpoint,
      byte[] body,
      String contentType,
      String accept,
      CallOptions options,
      Function<ReplyMessage, T> decoder,
      long started,
      long deadline,
      String requestId,
      String traceId,
      String parentSpanId,
      boolean sampled,
      String key,
      String userToken) {}

  /**
   * How long after the broker connection's recovery a request the broker routed to no queue is sent
   * again rather than failed NOT_FOUND: the services' own connections recover on their own schedule
   * (amqp-client tries every second) and bind their queues again after that, so for a moment after this
   * client's recovery a running service can look absent (docs/reliability.md, "Broker restarts").
   */
  static final Duration SETTLE_AFTER_RECOVERY = Duration.ofSeconds(10);
  /** The pause before such a request is sent again. */
  static final long UNROUTED_RESEND_PAUSE_MILLIS = 200;
  private static final long SETTLE_NANOS = SETTLE_AFTER_RECOVERY.toNanos();

  final Config config;
  private final Breakers breakers;
  /** Takes this client's open circuits out of the registry's gauge, which sums every client's. */
  private final Runnable openCircuitsGauge;
  private final Retries retries;
  private final IdempotencyMemory idempotency = new IdempotencyMemory();
  private final TokenReferences tokens;
  private final PendingCalls pending;
  private final ScheduledThreadPoolExecutor timer;
  private final AtomicLong sequence = new AtomicLong();
  private final String correlationPrefix = Ids.random32() + "-";
  private final Counter retried;
  private final Counter circuitOpen;
  private final Counter waitedForTransport;
  private final Counter resentUnrouted;
  /** When the broker connection last came back ({@link System#nanoTime()}); long ago at first. */
  private volatile long recoveredAtNanos = System.nanoTime() - SETTLE_NANOS - 1;
  private Transport.Subscription recoveries;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Object channelLock = new Object();
  private volatile Transport.ClientChannel channel;

  CallEngine(Config config) {
    this.config = config;
    this.breakers = config.breaker() == null ? null : new Breakers(config.breaker());
    this.retries = new Retries(config.retryPolicy(), () -> ThreadLocalRandom.current().nextDouble());
    this.timer = new ScheduledThreadPoolExecutor(1, Threads.named("skiff-client-timer-" + config.fromService()));
    MetricRegistry metrics = config.metrics();
    this.pending = new PendingCalls(config.maxInFlight(), timer, metrics, config.clock(), config.identities());
    this.retried = metrics.counter("skiff.client.retries");
    this.circuitOpen = metrics.counter("skiff.client.circuit-open");
    this.waitedForTransport = metrics.counter("skiff.client.waited-for-transport");
    this.resentUnrouted = metrics.counter("skiff.client.resent-after-recovery");
    this.tokens = new TokenReferences(TokenReferences.MAX_TOKENS, metrics);
    this.openCircuitsGauge = SummedGauge.add(metrics, "skiff.client.open-circuits", () -> breakers == null ? 0 : breakers.open());
  }

  /** The transport's channel, opened at the first call. */
  private Transport.ClientChannel channel() {
    Transport.ClientChannel c = channel;
    if (c == null) {
      synchronized (channelLock) {
        c = channel;
        if (c == null) {
          if (closed.get()) {
            throw new SkiffException(ErrorCode.UNAVAILABLE, "the client is closed");
          }
          c = config.transport().openClient(
              new Transport.ReplyListener() {
                @Override
                public void onReply(ReplyMessage reply) {
                  pending.onReply(reply);
                }

                @Override
                public void onRepliesLost(String reason) {
                  pending.onRepliesLost(reason);
                }

                @Override
                public void onUndeliverable(String correlationId, SkiffException error) {
                  // from the connection's thread: fail the call from the client's own, as a refused send
                  // (a retry must not publish from the thread that reads the socket)
                  try {
                    timer.execute(() -> pending.fail(correlationId, error));
                  } catch (RejectedExecutionException closing) {
                    pending.fail(correlationId, error);
                  }
                }
              });
          channel = c;
          recoveries = config.transport().watchConnection(new Transport.ConnectionListener() {
            @Override
            public void lost() {
              // nothing until it is back
            }

            @Override
            public void recovered() {
              recoveredAtNanos = System.nanoTime();
            }
          });
        }
      }
    }
    return c;
  }

  <T> CompletableFuture<Reply<T>> send(
      CallScope scope, String service, String endpoint, byte[] body, String contentType, String accept, CallOptions options,
      Function<ReplyMessage, T> decoder) {
    CompletableFuture<Reply<T>> result = new CompletableFuture<>();
    try {
      Call<T> call = newCall(scope, service, endpoint, body, contentType, accept, options, decoder);
      attempt(call, 1, false, result);
    } catch (RuntimeException e) {
      result.completeExceptionally(SkiffException.of(e));
    }
    // every error the call fails with names its callee: a server that sees it escape a handler knows it
    // for a nested call's failure, not the handler's own answer (docs/wire-protocol.md)
    Callee callee = new Callee(service, endpoint, scope != null && scope.userToken() != null);
    CompletableFuture<Reply<T>> marked = new CompletableFuture<>();
    result.whenComplete((reply, error) -> {
      if (error == null) {
        marked.complete(reply);
      } else {
        marked.completeExceptionally(SkiffException.of(error).fromCallTo(callee));
      }
    });
    return marked;
  }

  /** Checks a call and fixes what all its attempts share: request id, deadline, trace. */
  private <T> Call<T> newCall(
      CallScope scope, String service, String endpoint, byte[] body, String contentType, String accept, CallOptions options,
      Function<ReplyMessage, T> decoder) {
    if (!Names.isService(service)) {
      throw invalid("service", service);
    }
    if (!Names.isToken(endpoint)) {
      throw invalid("endpoint", endpoint);
    }
    if (options.instance() != null && !Names.isInstance(options.instance())) {
      throw invalid("instance", options.instance());
    }
    if (options.version() != null && !Names.isVersion(options.version())) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "invalid version '" + options.version() + "'");
    }
    if (body.length > config.maxMessageBytes()) {
      throw new SkiffException(
              ErrorCode.BAD_REQUEST,
              "request of " + body.length + " bytes to " + service + "/" + endpoint + " is over the message size limit of "
                  + config.maxMessageBytes() + " bytes")
          .withContext("limit", Integer.toString(config.maxMessageBytes()));
    }
    if (closed.get()) {
      throw new SkiffException(ErrorCode.UNAVAILABLE, "the client is closed");
    }
    Duration timeout = options.timeout() == null ? config.defaultTimeout() : options.timeout();
    if (timeout.compareTo(CallOptions.MAX_TIMEOUT) > 0) {
      // RabbitMQ would refuse the message expiry and close the publishing channel (issue 17)
      throw new SkiffException(
              ErrorCode.BAD_REQUEST,
              "the timeout of the call to " + service + "/" + endpoint + " (" + timeout + ") is too long: a call's timeout is at most 30 days")
          .withContext("limit", CallOptions.MAX_TIMEOUT.toString());
    }
    long now = config.clock().millis();
    long deadline = now + Math.max(1, timeout.toMillis());
    if (scope != null && scope.deadline() != null) {
      deadline = Math.min(deadline, scope.deadline().toEpochMilli());
    }
    if (deadline <= now) {
      pending.timeouts().inc();
      throw new SkiffException(
          ErrorCode.TIMEOUT, "no time left to call " + service + "/" + endpoint + ": the parent request's deadline has passed");
    }
    TraceContext parent = scope == null ? null : TraceContext.parse(scope.traceparent());
    String requestId = options.requestId() == null ? Ids.random128() : options.requestId();
    String key = service + "/" + endpoint;
    String userToken = scope == null ? null : scope.userToken();
    return parent == null
        ? new Call<>(service, endpoint, body, contentType, accept, options, decoder, now, deadline, requestId, Ids.random128(), "",
            options.trace() || config.observers().sampleNewTrace(service, endpoint), key, userToken)
        : new Call<>(service, endpoint, body, contentType, accept, options, decoder, now, deadline, requestId, parent.traceId(),
            parent.spanId(), parent.sampled() || options.trace(), key, userToken);
  }

  private static SkiffException invalid(String what, String name) {
    return new SkiffException(
        ErrorCode.BAD_REQUEST,
        "invalid " + what + " name '" + name + "': " + (what.equals("service")
            ? "use dot-separated lower-case parts of letters, digits, '_' and '-', e.g. com.example.greeter"
            : "use letters, digits, '.', '_' and '-'"));
  }

  /**
   * One attempt: a place among the client's calls in flight, then through the breaker, sent as soon as
   * the channel can send (see {@link #whenSendable}), and on failure retried if {@link Retries} says so.
   * An attempt that referred to its person's session by reference where the answering instance does not
   * know it is sent again at once with the token in full, as the same attempt.
   *
   * @param tokenInFull whether to send the person's token in full even if the client holds its reference
   */
  private <T> void attempt(Call<T> call, int attempt, boolean tokenInFull, CompletableFuture<Reply<T>> result) {
    Breakers.Breaker breaker = null;
    CompletableFuture<Reply<T>> outcome;
    long started = System.nanoTime();
    long sentMicros = dev.skiff.platform.internal.EpochMicros.start(config.clock(), call.sampled());
    String spanId = Ids.random64();
    try {
      pending.reserve();
      outcome = null;
    } catch (SkiffException full) {
      outcome = CompletableFuture.failedFuture(full);
    }
    if (outcome == null) {
      breaker = breakers == null ? null : breakers.forKey(call.key());
      if (breaker != null) {
        try {
          breaker.acquire(call.service());
        } catch (SkiffException open) {
          pending.release();
          circuitOpen.inc();
          result.completeExceptionally(open);
          return;
        }
      }
      outcome = whenSendable(call).thenCompose(ready -> sendOnce(call, attempt, spanId, tokenInFull));
    }
    Breakers.Breaker judge = breaker;
    outcome.whenComplete((reply, error) -> {
      long nanos = System.nanoTime() - started;
      Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
      if (cause instanceof SessionUnknown unknown) {
        if (judge != null) {
          judge.record(nanos, null); // the service answered; the session is the client's to send
        }
        if (!tokenInFull && !closed.get() && config.clock().millis() < call.deadline()) {
          log.debug("{} request {}: {} does not know the session; sending the token", call.key(), call.requestId(), unknown.error.instance());
          later(() -> attempt(call, attempt, true, result), 0, result, unknown.error);
          return;
        }
        error = unknown.error;
      }
      SkiffException e = error == null ? null : SkiffException.of(error);
      if (judge != null) {
        judge.record(nanos, e);
      }
      if (e == null) {
        observe(call, attempt, spanId, sentMicros, nanos, null, false, reply.instance(), reply.serviceVersion());
        result.complete(reply);
        return;
      }
      if (e.progress() == RpcProgress.NOT_SENT && !closed.get() && !sendable() && config.clock().millis() < call.deadline()) {
        // refused because the broker connection was lost after the check: not an attempt, wait again
        log.debug("{} request {} not sent: the transport is recovering; waiting for it", call.key(), call.requestId());
        later(() -> attempt(call, attempt, tokenInFull, result), 0, result, e);
        return;
      }
      if (unroutedJustAfterRecovery(e) && !closed.get()
          && config.clock().millis() + UNROUTED_RESEND_PAUSE_MILLIS + Retries.MIN_ATTEMPT_MILLIS < call.deadline()) {
        // no queue took it, so no instance ran it: the service's own recovery may not have bound its
        // queue yet; the same attempt goes again shortly, spending no retry
        resentUnrouted.inc();
        log.debug("{} request {}: not routed just after the broker connection's recovery; sending it again", call.key(), call.requestId());
        later(() -> attempt(call, attempt, tokenInFull, result), UNROUTED_RESEND_PAUSE_MILLIS, result, e);
        return;
      }
      long delay = closed.get() || Retries.relayed(e, call.service(), call.endpoint()) ? -1
          : retries.delayMillis(attempt, e, idempotency.idempotent(call.key(), call.options().idempotent()), config.clock().millis(), call.deadline());
      observe(call, attempt, spanId, sentMicros, nanos, e.code(), delay >= 0, e.instance(), "");
      if (delay < 0) {
        result.completeExceptionally(attempt == 1 ? e : e.withContext("attempts", Integer.toString(attempt)));
        return;
      }
      retried.inc();
      log.debug("retrying {} request {} (attempt {} failed: {}) in {} ms", call.key(), call.requestId(), attempt, e.code(), delay);
      later(() -> attempt(call, attempt + 1, false, result), delay, result, e);
    });
  }

  /**
   * @return whether an attempt failed because the broker routed it to no queue, within
   *     {@link #SETTLE_AFTER_RECOVERY} of the broker connection's recovery
   */
  private boolean unroutedJustAfterRecovery(SkiffException e) {
    return e.code() == ErrorCode.NOT_FOUND && e.progress() == RpcProgress.NOT_RECEIVED
        && System.nanoTime() - recoveredAtNanos < SETTLE_NANOS;
  }

  /** Runs a step of a call on the client's timer, or fails the call with its last error if closing. */
  private void later(Runnable step, long delayMillis, CompletableFuture<?> result, SkiffException last) {
    try {
      timer.schedule(step, delayMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closing) {
      result.completeExceptionally(last);
    }
  }

  /** @return whether the channel can send now (the transport's connection is not being recovered) */
  private boolean sendable() {
    return config.transport().whenReady().isDone();
  }

  /**
   * Completes when the channel can send: at once normally; while the transport recovers its broker
   * connection, when the recovery ends, so that a call made during a broker restart shorter than its
   * deadline is sent then instead of failing (docs/reliability.md). Fails at the call's deadline with
   * TIMEOUT, {@link RpcProgress#NOT_SENT}, if the recovery has not ended by then.
   */
  private CompletableFuture<Void> whenSendable(Call<?> call) {
    CompletableFuture<Void> ready = config.transport().whenReady();
    try {
      if (ready.isDone()) {
        channel(); // opens the channel at the first call
      }
    } catch (RuntimeException e) {
      pending.release();
      return CompletableFuture.failedFuture(e);
    }
    if (ready.isDone()) {
      return ready;
    }
    waitedForTransport.inc();
    CompletableFuture<Void> sendable = new CompletableFuture<>();
    try {
      ScheduledFuture<?> expiry = timer.schedule(
          () -> {
            if (sendable.completeExceptionally(
                new SkiffException(
                        ErrorCode.TIMEOUT,
                        "not sent: the connection to the broker (" + config.transport().describe() + ") was still recovering at the "
                            + "deadline of the call to " + call.key())
                    .withContext("request_id", call.requestId())
                    .withProgress(RpcProgress.NOT_SENT))) {
              pending.release();
              pending.timeouts().inc();
            }
          },
          Math.max(0, call.deadline() - config.clock().millis()), TimeUnit.MILLISECONDS);
      // the call goes on on the client's own thread, never on the transport's recovery thread
      ready.thenRunAsync(
          () -> {
            // the connection is back (its watcher may hear of it a moment later)
            recoveredAtNanos = System.nanoTime();
            expiry.cancel(false);
            sendable.complete(null);
          },
          timer);
    } catch (RejectedExecutionException closing) {
      pending.release();
      sendable.completeExceptionally(new SkiffException(ErrorCode.UNAVAILABLE, "the client is closed").withProgress(RpcProgress.NOT_SENT));
    }
    return sendable;
  }

  private void observe(
      Call<?> call, int attempt, String spanId, long sentMicros, long nanos, ErrorCode error, boolean retrying,
      String answeredBy, String answeredVersion) {
    Observers observers = config.observers();
    if (observers.isEmpty()) {
      return;
    }
    observers.onClientAttempt(
        new ClientEvent(
            config.fromService(), call.service(), call.endpoint(), call.requestId(), attempt, call.traceId(), spanId,
            call.parentSpanId(), call.sampled(), sentMicros, nanos, error, retrying, answeredBy, answeredVersion));
  }

  /**
   * Sends one attempt, in a place already taken among the calls in flight.
   *
   * @param attempt which attempt of the call it is, from 1
   * @param tokenInFull whether to send the person's token in full even if the client holds its reference
   */
  private <T> CompletableFuture<Reply<T>> sendOnce(Call<T> call, int attempt, String spanId, boolean tokenInFull) {
    CompletableFuture<Reply<T>> result = new CompletableFuture<>();
    long now = config.clock().millis();
    long deadline = call.deadline();
    RetryPolicy policy = config.retryPolicy();
    if (policy.perAttemptTimeout() != null && policy.maxAttempts() > 1) {
      deadline = Math.min(deadline, now + policy.perAttemptTimeout().toMillis());
    }
    String correlationId = correlationPrefix + sequence.incrementAndGet();
    String token = call.userToken();
    String ref = token == null || tokenInFull ? null : tokens.referenceFor(token);
    Attempt<T> waiter = new Attempt<>(result, call, attempt, now, Math.max(now + 1, deadline), token != null && ref == null);
    pending.add(correlationId, waiter);
    RequestMessage msg =
        RequestMessage.builder()
            .correlationId(correlationId)
            .requestId(call.requestId())
            .service(call.service())
            .endpoint(call.endpoint())
            .targetInstance(call.options().instance())
            .targetVersion(call.options().version())
            .deadlineEpochMillis(deadline)
            .sentEpochMillis(now)
            .fromService(config.fromService())
            .fromInstance(config.fromInstance())
            .traceparent("00-" + call.traceId() + "-" + spanId + (call.sampled() ? "-01" : "-00"))
            .contentType(call.contentType())
            .accept(call.accept())
            .userToken(ref == null ? token : null)
            .userTokenReference(ref)
            .body(call.body())
            .build();
    CompletableFuture<Void> sent;
    try {
      sent = channel().send(msg);
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    sent.whenComplete((ok, err) -> {
      if (err != null) {
        // A refused send is reported on the broker connection's I/O thread: fail the call from the
        // client's own thread, so that callbacks (a retry, a fan-out starting its next call) never
        // publish from the thread that reads the socket.
        SkiffException e = SkiffException.of(err);
        try {
          timer.execute(() -> pending.fail(correlationId, waiter, e));
        } catch (RejectedExecutionException closing) {
          pending.fail(correlationId, waiter, e);
        }
      }
    });
    return result;
  }

  void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    pending.failAll(new SkiffException(ErrorCode.UNAVAILABLE, "the client was closed before the reply came"));
    pending.leaveMetrics();
    openCircuitsGauge.run();
    timer.shutdownNow();
    synchronized (channelLock) {
      if (recoveries != null) {
        recoveries.close();
      }
      if (channel != null) {
        channel.close();
      }
    }
    if (config.ownsTransport()) {
      config.transport().close();
    }
  }

  /**
   * An attempt's reply saying that the answering instance does not know the session reference it carried:
   * not a failure of the call, which is sent again with the token in full.
   */
  private static final class SessionUnknown extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient SkiffException error;

    SessionUnknown(SkiffException error) {
      super(error.getMessage(), null, false, false);
      this.error = error;
    }
  }

  /** One attempt waiting for its reply, which it decodes for its call. */
  private final class Attempt<T> extends PendingCalls.Waiter {
    private final CompletableFuture<Reply<T>> result;
    private final Call<T> call;
    private final boolean tokenInFull;
    /** Which attempt of its call it is, from 1. */
    private final int number;

    /**
     * @param number which attempt of its call it is, from 1
     * @param tokenInFull whether it carries its person's token in full (not by reference)
     */
    Attempt(CompletableFuture<Reply<T>> result, Call<T> call, int number, long sentMillis, long deadlineMillis, boolean tokenInFull) {
      super(call.service(), sentMillis, deadlineMillis);
      this.result = result;
      this.call = call;
      this.number = number;
      this.tokenInFull = tokenInFull;
    }

    @Override
    void failed(SkiffException e) {
      result.completeExceptionally(e);
    }

    @Override
    SkiffException timedOut() {
      long window = deadlineMillis - sentMillis;
      // a retry, or an attempt cut short by the retry policy's per-attempt timeout, had less than the call's
      // timeout: say both, or "within 40 ms" reads as a call given 40 ms
      boolean partial = number > 1 || deadlineMillis < call.deadline();
      return new SkiffException(ErrorCode.TIMEOUT, "no reply from " + call.key() + " within " + window + " ms"
              + (partial ? " to this attempt (the call's timeout: " + (call.deadline() - call.started()) + " ms)" : ""))
          .withContext("request_id", call.requestId());
    }

    @Override
    SkiffException repliesLost(String reason) {
      return new SkiffException(
              ErrorCode.UNAVAILABLE,
              "no reply can come from " + call.key() + ": " + reason + " (the request may or may not have been carried out)")
          .withContext("request_id", call.requestId());
    }

    @Override
    void replied(ReplyMessage reply) {
      idempotency.learn(call.key(), reply.idempotent());
      if (reply.sessionUnknown()) {
        result.completeExceptionally(new SessionUnknown(Codec.decodeError(reply.body(), reply.contentType())));
        return;
      }
      if (tokenInFull && reply.ok()) {
        tokens.answered(call.userToken());
      }
      if (!reply.ok()) {
        result.completeExceptionally(Codec.decodeError(reply.body(), reply.contentType()));
        return;
      }
      int max = config.maxMessageBytes();
      if (reply.body().length > max) {
        result.completeExceptionally(
            new SkiffException(
                ErrorCode.INTERNAL,
                "reply of " + reply.body().length + " bytes from " + call.key() + " is over this client's message size limit of "
                    + max + " bytes"));
        return;
      }
      T value;
      try {
        value = call.decoder().apply(reply);
      } catch (SkiffException e) {
        result.completeExceptionally(new SkiffException(ErrorCode.INTERNAL, "unreadable reply from " + call.key() + ": " + e.description()));
        return;
      } catch (RuntimeException e) {
        result.completeExceptionally(SkiffException.of(e));
        return;
      }
      result.complete(new Reply<>(value, call.service(), reply.serviceVersion(), reply.instance(), call.requestId(), call.traceId()));
    }
  }
}
