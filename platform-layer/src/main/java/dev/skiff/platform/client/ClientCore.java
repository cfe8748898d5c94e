package dev.skiff.platform.client;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.BusySweep;
import dev.skiff.platform.internal.Codec;
import dev.skiff.platform.internal.Ids;
import dev.skiff.platform.internal.Observers;
import dev.skiff.platform.observe.ClientEvent;
import dev.skiff.platform.internal.TraceContext;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared state behind a Client and its scoped views: the channel, pending attempts, the timer,
 * retries and circuit breakers.
 */
final class ClientCore {
  private static final Logger log = LoggerFactory.getLogger(Client.class);
  private static final int MAX_LEARNED_ENDPOINTS = 10_000;
  /** A retry is not worth sending with less time than this left before the call's deadline. */
  private static final long MIN_ATTEMPT_MILLIS = 10;
  /**
   * How often the timer looks for calls past their deadline while calls are pending: one periodic sweep
   * over the pending calls rather than a scheduled task per call, so that sending a call wakes no
   * thread; and none while nothing is pending, so that an idle client wakes no thread either.
   */
  static final long TIMEOUT_SWEEP_MILLIS = 10;

  final Transport transport;
  final boolean ownsTransport;
  final String fromService;
  final String fromInstance;
  final Duration defaultTimeout;
  final int maxMessageBytes;
  final int maxInFlight;
  final RetryPolicy retryPolicy;
  final MetricRegistry metrics;
  final Clock clock;
  final Observers observers;

  private final CircuitBreakerRegistry breakers;
  private final Map<String, Pending<?>> pending = new ConcurrentHashMap<>();
  private final Map<String, Boolean> idempotentEndpoints = new ConcurrentHashMap<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicLong sequence = new AtomicLong();
  private final String correlationPrefix = Ids.random32() + "-";
  private final ScheduledThreadPoolExecutor timer;
  /** The timeout sweep's passes, scheduled only while calls are pending. */
  private final BusySweep sweep;
  private final Counter lateReplies;
  private final Counter timeouts;
  private final Counter retries;
  private final Counter circuitOpen;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Object channelLock = new Object();
  private volatile Transport.ClientChannel channel;

  ClientCore(
      Transport transport,
      boolean ownsTransport,
      String fromService,
      String fromInstance,
      Duration defaultTimeout,
      int maxMessageBytes,
      int maxInFlight,
      RetryPolicy retryPolicy,
      CircuitBreakerConfig breakerConfig,
      MetricRegistry metrics,
      Clock clock,
      Observers observers) {
    this.transport = transport;
    this.ownsTransport = ownsTransport;
    this.fromService = fromService;
    this.fromInstance = fromInstance;
    this.defaultTimeout = defaultTimeout;
    this.maxMessageBytes = maxMessageBytes;
    this.maxInFlight = maxInFlight;
    this.retryPolicy = retryPolicy;
    this.metrics = metrics;
    this.clock = clock;
    this.observers = observers;
    this.breakers = breakerConfig == null ? null : CircuitBreakerRegistry.of(breakerConfig);
    this.timer =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, "skiff-client-timer-" + fromService);
              t.setDaemon(true);
              return t;
            });
    this.sweep = new BusySweep(timer, TIMEOUT_SWEEP_MILLIS, this::sweep, () -> !pending.isEmpty());
    this.lateReplies = metrics.counter("skiff.client.late-replies");
    this.timeouts = metrics.counter("skiff.client.timeouts");
    this.retries = metrics.counter("skiff.client.retries");
    this.circuitOpen = metrics.counter("skiff.client.circuit-open");
    metrics.gauge("skiff.client.in-flight", () -> inFlight::get);
    metrics.gauge(
        "skiff.client.open-circuits",
        () ->
            () ->
                breakers == null
                    ? 0
                    : (int)
                        breakers.getAllCircuitBreakers().stream()
                            .filter(b -> b.getState() == CircuitBreaker.State.OPEN)
                            .count());
  }

  private Transport.ClientChannel channel() {
    Transport.ClientChannel c = channel;
    if (c == null) {
      synchronized (channelLock) {
        c = channel;
        if (c == null) {
          if (closed.get()) {
            throw new SkiffException(ErrorCode.UNAVAILABLE, "the client is closed");
          }
          c =
              transport.openClient(
                  new Transport.ReplyListener() {
                    @Override
                    public void onReply(ReplyMessage reply) {
                      ClientCore.this.onReply(reply);
                    }

                    @Override
                    public void onRepliesLost(String reason) {
                      ClientCore.this.onRepliesLost(reason);
                    }
                  });
          channel = c;
        }
      }
    }
    return c;
  }

  /** One call: its fixed parts, shared by all its attempts. */
  private record Call<T>(
      String service,
      String endpoint,
      byte[] body,
      String contentType,
      String accept,
      CallOptions options,
      Function<ReplyMessage, T> decoder,
      long deadline,
      String requestId,
      String traceId,
      String parentSpanId,
      boolean sampled,
      String key) {}

  <T> CompletableFuture<Reply<T>> send(
      CallScope scope,
      String service,
      String endpoint,
      byte[] body,
      String contentType,
      String accept,
      CallOptions options,
      Function<ReplyMessage, T> decoder) {
    CompletableFuture<Reply<T>> result = new CompletableFuture<>();
    try {
      checkName("service", service);
      checkName("endpoint", endpoint);
      if (options.instance() != null) {
        checkName("instance", options.instance());
      }
      if (options.version() != null && !dev.skiff.platform.transport.Transport.VERSION.matcher(options.version()).matches()) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, "invalid version '" + options.version() + "'");
      }
      if (body.length > maxMessageBytes) {
        throw new SkiffException(
                ErrorCode.BAD_REQUEST,
                "request of " + body.length + " bytes to " + service + "/" + endpoint
                    + " is over the message size limit of " + maxMessageBytes + " bytes")
            .withContext("limit", Integer.toString(maxMessageBytes));
      }
      if (closed.get()) {
        throw new SkiffException(ErrorCode.UNAVAILABLE, "the client is closed");
      }
      long now = clock.millis();
      Duration timeout = options.timeout() == null ? defaultTimeout : options.timeout();
      long deadline = now + Math.max(1, timeout.toMillis());
      if (scope != null && scope.deadline() != null) {
        deadline = Math.min(deadline, scope.deadline().toEpochMilli());
      }
      if (deadline <= now) {
        timeouts.inc();
        throw new SkiffException(
            ErrorCode.TIMEOUT,
            "no time left to call " + service + "/" + endpoint + ": the parent request's deadline has passed");
      }
      TraceContext parent = scope == null ? null : TraceContext.parse(scope.traceparent());
      String requestId = options.requestId() == null ? Ids.random128() : options.requestId();
      Call<T> call =
          parent == null
              ? new Call<>(
                  service, endpoint, body, contentType, accept, options, decoder, deadline, requestId, Ids.random128(), "",
                  options.trace() || observers.sampleNewTrace(service, endpoint), service + "/" + endpoint)
              : new Call<>(
                  service, endpoint, body, contentType, accept, options, decoder, deadline, requestId, parent.traceId(),
                  parent.spanId(), parent.sampled() || options.trace(), service + "/" + endpoint);
      attempt(call, 1, result);
    } catch (RuntimeException e) {
      result.completeExceptionally(SkiffException.of(e));
    }
    return result;
  }

  private <T> void attempt(Call<T> call, int attempt, CompletableFuture<Reply<T>> result) {
    CircuitBreaker breaker = breakers == null ? null : breakers.circuitBreaker(call.key());
    if (breaker != null && !breaker.tryAcquirePermission()) {
      circuitOpen.inc();
      result.completeExceptionally(
          new SkiffException(
                  ErrorCode.CIRCUIT_OPEN,
                  "not sent: the circuit breaker for " + call.key() + " is open after "
                      + Math.round(breaker.getMetrics().getFailureRate()) + "% of recent calls failed; it lets a trial call through after "
                      + breaker.getCircuitBreakerConfig().getWaitIntervalFunctionInOpenState().apply(1) + " ms")
              .withContext("service", call.service()));
      return;
    }
    long now = clock.millis();
    long attemptDeadline = call.deadline();
    if (retryPolicy.perAttemptTimeout() != null && retryPolicy.maxAttempts() > 1) {
      attemptDeadline = Math.min(attemptDeadline, now + retryPolicy.perAttemptTimeout().toMillis());
    }
    long started = System.nanoTime();
    long sentMicros = now * 1000;
    String spanId = Ids.random64();
    sendOnce(call, attemptDeadline, spanId)
        .whenComplete(
            (reply, error) -> {
              long nanos = System.nanoTime() - started;
              if (error == null) {
                if (breaker != null) {
                  breaker.onSuccess(nanos, TimeUnit.NANOSECONDS);
                }
                observe(call, attempt, spanId, sentMicros, nanos, null, false, reply.instance(), reply.serviceVersion());
                result.complete(reply);
                return;
              }
              SkiffException e = SkiffException.of(error);
              if (breaker != null) {
                if (countsAgainstService(e.code())) {
                  breaker.onError(nanos, TimeUnit.NANOSECONDS, e);
                } else {
                  breaker.onSuccess(nanos, TimeUnit.NANOSECONDS);
                }
              }
              long delay = retryDelay(call, attempt, e);
              observe(call, attempt, spanId, sentMicros, nanos, e.code(), delay >= 0, e.instance(), "");
              if (delay < 0) {
                result.completeExceptionally(attempt == 1 ? e : e.withContext("attempts", Integer.toString(attempt)));
                return;
              }
              retries.inc();
              log.debug("retrying {} request {} (attempt {} failed: {}) in {} ms", call.key(), call.requestId(), attempt, e.code(), delay);
              try {
                timer.schedule(() -> attempt(call, attempt + 1, result), delay, TimeUnit.MILLISECONDS);
              } catch (java.util.concurrent.RejectedExecutionException closing) {
                result.completeExceptionally(e);
              }
            });
  }

  private void observe(
      Call<?> call, int attempt, String spanId, long sentMicros, long nanos, ErrorCode error, boolean retrying,
      String answeredBy, String answeredVersion) {
    if (observers.isEmpty()) {
      return;
    }
    observers.onClientAttempt(
        new ClientEvent(
            fromService, call.service(), call.endpoint(), call.requestId(), attempt, call.traceId(), spanId,
            call.parentSpanId(), call.sampled(), sentMicros, nanos, error, retrying, answeredBy, answeredVersion));
  }

  /** @return the delay before another attempt, or -1 when the call must not be retried */
  private long retryDelay(Call<?> call, int attempt, SkiffException e) {
    if (attempt >= retryPolicy.maxAttempts() || closed.get()) {
      return -1;
    }
    boolean retryable = e.code().isRetryable() || e.code() == ErrorCode.UNKNOWN_OUTCOME;
    // a request that never left this process may be sent again whatever its endpoint does
    boolean unsent = e.progress() == dev.skiff.platform.RpcProgress.NOT_SENT;
    if (!retryable || e.code() == ErrorCode.CIRCUIT_OPEN || !(unsent || isIdempotent(call))) {
      return -1;
    }
    double jitter = 0.5 + ThreadLocalRandom.current().nextDouble();
    long delay = Math.round(retryPolicy.nominalBackoff(attempt + 1).toMillis() * jitter);
    // the next attempt must have time to do something before the call's deadline
    if (clock.millis() + delay + MIN_ATTEMPT_MILLIS >= call.deadline()) {
      return -1;
    }
    return delay;
  }

  private boolean isIdempotent(Call<?> call) {
    Boolean declared = call.options().idempotent();
    if (declared != null) {
      return declared;
    }
    return idempotentEndpoints.getOrDefault(call.key(), false);
  }

  /** Errors that say the service is unhealthy, as opposed to the request being wrong. */
  private static boolean countsAgainstService(ErrorCode code) {
    return switch (code) {
      case TIMEOUT, UNAVAILABLE, CAPACITY, INTERNAL, UNKNOWN_OUTCOME -> true;
      default -> false;
    };
  }

  private <T> CompletableFuture<Reply<T>> sendOnce(Call<T> call, long deadline, String spanId) {
    CompletableFuture<Reply<T>> result = new CompletableFuture<>();
    long now = clock.millis();
    if (inFlight.incrementAndGet() > maxInFlight) {
      inFlight.decrementAndGet();
      result.completeExceptionally(
          new SkiffException(ErrorCode.CAPACITY, "this client already has " + maxInFlight + " calls in flight (maxInFlight)"));
      return result;
    }
    String correlationId = correlationPrefix + sequence.incrementAndGet();
    Pending<T> p = new Pending<>(result, call, now, Math.max(now + 1, deadline));
    pending.put(correlationId, p);
    sweep.arm();
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
            .fromService(fromService)
            .fromInstance(fromInstance)
            .traceparent("00-" + call.traceId() + "-" + spanId + (call.sampled() ? "-01" : "-00"))
            .contentType(call.contentType())
            .accept(call.accept())
            .body(call.body())
            .build();
    CompletableFuture<Void> sent;
    try {
      sent = channel().send(msg);
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    sent.whenComplete(
        (ok, err) -> {
          if (err != null && pending.remove(correlationId, p)) {
            // A refused send is reported on the broker connection's I/O thread: fail the call from the
            // client's own thread, so that callbacks (a retry, a fan-out starting its next call) never
            // publish from the thread that reads the socket.
            try {
              timer.execute(() -> p.fail(SkiffException.of(err)));
            } catch (java.util.concurrent.RejectedExecutionException closed) {
              p.fail(SkiffException.of(err));
            }
          }
        });
    return result;
  }

  /** The timer's periodic pass: fails every call whose deadline has come. */
  private void sweep() {
    long now = clock.millis();
    for (Map.Entry<String, Pending<?>> e : pending.entrySet()) {
      Pending<?> p = e.getValue();
      if (p.deadline <= now && pending.remove(e.getKey(), p)) {
        timeouts.inc();
        p.fail(
            new SkiffException(
                    ErrorCode.TIMEOUT,
                    "no reply from " + p.call.key() + " within " + (p.deadline - p.sent) + " ms")
                .withContext("request_id", p.call.requestId()));
      }
    }
  }

  private void onReply(ReplyMessage reply) {
    Pending<?> p = pending.remove(reply.correlationId());
    if (p == null) {
      lateReplies.inc();
      return;
    }
    if (idempotentEndpoints.size() < MAX_LEARNED_ENDPOINTS || idempotentEndpoints.containsKey(p.call.key())) {
      String key = p.call.key();
      if (!Boolean.valueOf(reply.idempotent()).equals(idempotentEndpoints.get(key))) {
        idempotentEndpoints.put(key, reply.idempotent());
      }
    }
    p.complete(reply);
  }

  private void onRepliesLost(String reason) {
    for (String id : pending.keySet()) {
      Pending<?> p = pending.remove(id);
      if (p != null) {
        p.fail(
            new SkiffException(
                    ErrorCode.UNAVAILABLE,
                    "no reply can come from " + p.call.key() + ": " + reason
                        + " (the request may or may not have been carried out)")
                .withContext("request_id", p.call.requestId()));
      }
    }
  }

  private static void checkName(String what, String name) {
    if (!validName(name)) {
      throw new SkiffException(
          ErrorCode.BAD_REQUEST,
          "invalid " + what + " name '" + name + "': use letters, digits, '.', '_' and '-'");
    }
  }

  /**
   * A valid service, endpoint or instance name: {@code [A-Za-z0-9][A-Za-z0-9._-]{0,254}}, checked by hand
   * rather than by a regular expression since it runs on every call.
   */
  static boolean validName(String name) {
    if (name == null || name.isEmpty() || name.length() > 255) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
        return false;
      }
    }
    return true;
  }

  void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (String id : pending.keySet()) {
      Pending<?> p = pending.remove(id);
      if (p != null) {
        p.fail(new SkiffException(ErrorCode.UNAVAILABLE, "the client was closed before the reply came"));
      }
    }
    timer.shutdownNow();
    synchronized (channelLock) {
      if (channel != null) {
        channel.close();
      }
    }
    if (ownsTransport) {
      transport.close();
    }
  }

  /** One attempt waiting for its reply. */
  private final class Pending<T> {
    final CompletableFuture<Reply<T>> result;
    final Call<T> call;
    final long sent;
    final long deadline;

    Pending(CompletableFuture<Reply<T>> result, Call<T> call, long sent, long deadline) {
      this.result = result;
      this.call = call;
      this.sent = sent;
      this.deadline = deadline;
    }

    void fail(SkiffException e) {
      done();
      result.completeExceptionally(e);
    }

    void complete(ReplyMessage reply) {
      done();
      if (!reply.ok()) {
        result.completeExceptionally(Codec.decodeError(reply.body(), reply.contentType()));
        return;
      }
      if (reply.body().length > maxMessageBytes) {
        result.completeExceptionally(
            new SkiffException(
                ErrorCode.INTERNAL,
                "reply of " + reply.body().length + " bytes from " + call.key()
                    + " is over this client's message size limit of " + maxMessageBytes + " bytes"));
        return;
      }
      T value;
      try {
        value = call.decoder().apply(reply);
      } catch (SkiffException e) {
        result.completeExceptionally(
            new SkiffException(ErrorCode.INTERNAL, "unreadable reply from " + call.key() + ": " + e.description()));
        return;
      } catch (RuntimeException e) {
        result.completeExceptionally(SkiffException.of(e));
        return;
      }
      result.complete(
          new Reply<>(value, call.service(), reply.serviceVersion(), reply.instance(), call.requestId(), call.traceId()));
    }

    private void done() {
      inFlight.decrementAndGet();
    }
  }
}
