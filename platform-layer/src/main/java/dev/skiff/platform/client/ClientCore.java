package dev.skiff.platform.client;

import com.codahale.metrics.Counter;
import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.Codec;
import dev.skiff.platform.internal.Ids;
import dev.skiff.platform.internal.TraceContext;
import dev.skiff.platform.transport.ReplyMessage;
import dev.skiff.platform.transport.RequestMessage;
import dev.skiff.platform.transport.Transport;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.regex.Pattern;

/** The shared state behind a Client and its scoped views: the channel, pending calls and the timer. */
final class ClientCore {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,254}");

  final Transport transport;
  final boolean ownsTransport;
  final String fromService;
  final String fromInstance;
  final Duration defaultTimeout;
  final int maxMessageBytes;
  final int maxInFlight;
  final MetricRegistry metrics;
  final Clock clock;

  private final Map<String, Pending<?>> pending = new ConcurrentHashMap<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicLong sequence = new AtomicLong();
  private final String correlationPrefix = Ids.random32() + "-";
  private final ScheduledThreadPoolExecutor timer;
  private final Counter lateReplies;
  private final Counter timeouts;
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
      MetricRegistry metrics,
      Clock clock) {
    this.transport = transport;
    this.ownsTransport = ownsTransport;
    this.fromService = fromService;
    this.fromInstance = fromInstance;
    this.defaultTimeout = defaultTimeout;
    this.maxMessageBytes = maxMessageBytes;
    this.maxInFlight = maxInFlight;
    this.metrics = metrics;
    this.clock = clock;
    this.timer =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, "skiff-client-timer-" + fromService);
              t.setDaemon(true);
              return t;
            });
    timer.setRemoveOnCancelPolicy(true);
    this.lateReplies = metrics.counter("skiff.client.late-replies");
    this.timeouts = metrics.counter("skiff.client.timeouts");
    metrics.gauge("skiff.client.in-flight", () -> inFlight::get);
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
          c = transport.openClient(this::onReply);
          channel = c;
        }
      }
    }
    return c;
  }

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
      if (inFlight.incrementAndGet() > maxInFlight) {
        inFlight.decrementAndGet();
        throw new SkiffException(
            ErrorCode.CAPACITY, "this client already has " + maxInFlight + " calls in flight (maxInFlight)");
      }
      TraceContext parent = scope == null ? null : TraceContext.parse(scope.traceparent());
      TraceContext trace = parent == null ? TraceContext.newRoot(false) : parent.child();
      String requestId = options.requestId() == null ? Ids.random128() : options.requestId();
      String correlationId = correlationPrefix + sequence.incrementAndGet();
      Pending<T> p = new Pending<>(result, decoder, service, endpoint, requestId);
      pending.put(correlationId, p);
      long delay = deadline - now;
      p.timeout =
          timer.schedule(
              () -> {
                if (pending.remove(correlationId, p)) {
                  timeouts.inc();
                  p.fail(
                      new SkiffException(
                              ErrorCode.TIMEOUT,
                              "no reply from " + service + "/" + endpoint + " within " + delay + " ms")
                          .withContext("request_id", requestId));
                }
              },
              delay,
              TimeUnit.MILLISECONDS);
      RequestMessage msg =
          new RequestMessage(
              correlationId, requestId, service, endpoint, options.instance(), deadline, fromService,
              fromInstance, trace.header(), contentType, accept, null, null, body);
      CompletableFuture<Void> sent;
      try {
        sent = channel().send(msg);
      } catch (RuntimeException e) {
        sent = CompletableFuture.failedFuture(e);
      }
      sent.whenComplete(
          (ok, err) -> {
            if (err != null && pending.remove(correlationId, p)) {
              p.fail(SkiffException.of(err));
            }
          });
    } catch (RuntimeException e) {
      result.completeExceptionally(SkiffException.of(e));
    }
    return result;
  }

  private void onReply(ReplyMessage reply) {
    Pending<?> p = pending.remove(reply.correlationId());
    if (p == null) {
      lateReplies.inc();
      return;
    }
    p.complete(reply);
  }

  private static void checkName(String what, String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new SkiffException(
          ErrorCode.BAD_REQUEST,
          "invalid " + what + " name '" + name + "': use letters, digits, '.', '_' and '-'");
    }
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

  private final class Pending<T> {
    final CompletableFuture<Reply<T>> result;
    final Function<ReplyMessage, T> decoder;
    final String service;
    final String endpoint;
    final String requestId;
    volatile ScheduledFuture<?> timeout;

    Pending(
        CompletableFuture<Reply<T>> result,
        Function<ReplyMessage, T> decoder,
        String service,
        String endpoint,
        String requestId) {
      this.result = result;
      this.decoder = decoder;
      this.service = service;
      this.endpoint = endpoint;
      this.requestId = requestId;
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
                "reply of " + reply.body().length + " bytes from " + service + "/" + endpoint
                    + " is over this client's message size limit of " + maxMessageBytes + " bytes"));
        return;
      }
      T value;
      try {
        value = decoder.apply(reply);
      } catch (SkiffException e) {
        result.completeExceptionally(
            new SkiffException(
                ErrorCode.INTERNAL, "unreadable reply from " + service + "/" + endpoint + ": " + e.description()));
        return;
      } catch (RuntimeException e) {
        result.completeExceptionally(SkiffException.of(e));
        return;
      }
      result.complete(new Reply<>(value, reply.service(), reply.serviceVersion(), reply.instance(), requestId));
    }

    private void done() {
      inFlight.decrementAndGet();
      ScheduledFuture<?> t = timeout;
      if (t != null) {
        t.cancel(false);
      }
    }
  }
}
