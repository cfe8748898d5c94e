package dev.skiff.platform.server;

import com.google.protobuf.Message;
import dev.skiff.platform.security.Access;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One endpoint of a service: its name, request and response types, and handler. Immutable.
 *
 * @param name the endpoint's name, e.g. {@code hello}
 * @param requestType the request's protobuf class
 * @param responseType the response's protobuf class
 * @param handler the code
 * @param idempotent whether running a request twice has the same effect as once (safe to retry)
 * @param nonBlocking whether the handler never blocks, so that it may run on the thread that received the
 *     request instead of the service's handler pool ({@link #asNonBlocking()})
 * @param sla the performance it is expected to give, or null for none declared (its healthcheck then
 *     watches only its error rate)
 * @param access who may call it ({@link #withAccess(Access)}); {@link Access#byDefault()} unless declared
 * @param <Q> the request type
 * @param <R> the response type
 */
public record Endpoint<Q extends Message, R extends Message>(
        String name,
    Class<Q> requestType,
    Class<R> responseType,
    Handler<Q, R> handler,
    boolean idempotent,
    boolean nonBlocking,
    Sla sla,
    Access access) {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,254}");

  /** Checks the arguments. */
  public Endpoint {
    Objects.requireNonNull(name, "name");
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "invalid endpoint name '" + name + "': use letters, digits, '.', '_' and '-'");
    }
    Objects.requireNonNull(requestType, "requestType");
    Objects.requireNonNull(responseType, "responseType");
    Objects.requireNonNull(handler, "handler");
    Objects.requireNonNull(access, "access");
  }

  /**
   * An endpoint that is not declared idempotent.
   *
   * @param name the name
   * @param requestType the request class
   * @param responseType the response class
   * @param handler the code
   * @param <Q> the request type
   * @param <R> the response type
   * @return the endpoint
   */
  public static <Q extends Message, R extends Message> Endpoint<Q, R> of(
      String name, Class<Q> requestType, Class<R> responseType, Handler<Q, R> handler) {
    return new Endpoint<>(name, requestType, responseType, handler, false, false, null, Access.byDefault());
  }

  /** @return a copy declared idempotent */
  public Endpoint<Q, R> asIdempotent() {
    return new Endpoint<>(name, requestType, responseType, handler, true, nonBlocking, sla, access);
  }

  /**
   * Declares that the handler never blocks: it computes its answer from the request and memory alone,
   * without I/O, locks held for long, sleeps or synchronous calls to other services. The server then
   * runs it on the thread that received the request, skipping the hand-off to its handler pool (one
   * thread wake-up, tens of microseconds per request on a loaded machine; docs/performance.md), as
   * gRPC's {@code directExecutor()} does.
   *
   * <p>The promise matters: while such a handler runs, the transport's delivery thread serves nothing
   * else (over AMQP, the thread that reads requests from the broker for every service served on the
   * transport), so a handler that blocks stalls them all, and it is not bounded by the server's
   * {@code concurrency}. Starting a call without waiting for it ({@code callAsync}) is fine. Deadlines still hold: a handler past its deadline is answered
   * TIMEOUT, but it is not interrupted (the thread is not the server's). Leave it off when in doubt.
   *
   * @return a copy declared non-blocking
   */
  public Endpoint<Q, R> asNonBlocking() {
    return new Endpoint<>(name, requestType, responseType, handler, idempotent, true, sla, access);
  }

  /**
   * Declares the latency the endpoint's handler is expected to keep: its healthcheck turns unhealthy
   * when the measured mean or 95th percentile is over these, or when more than
   * {@link Sla#DEFAULT_MAX_ERROR_RATE} of recent requests failed through the service's fault.
   *
   * @param mean the expected mean handler time
   * @param p95 the expected 95th-percentile handler time
   * @return a copy with the expectations
   */
  public Endpoint<Q, R> withSla(Duration mean, Duration p95) {
    return withSla(new Sla(mean, p95, Sla.DEFAULT_MAX_ERROR_RATE));
  }

  /**
   * Declares the endpoint's expectations in full.
   *
   * @param sla the expectations
   * @return a copy with them
   */
  public Endpoint<Q, R> withSla(Sla sla) {
    return new Endpoint<>(name, requestType, responseType, handler, idempotent, nonBlocking, Objects.requireNonNull(sla, "sla"), access);
  }

  /**
   * Declares who may call it: for example {@code Access.anyone()} for a public endpoint,
   * {@code Access.role("ADMIN.CONFIG")} for people with that role, {@code Access.services("com.example.bookings")}
   * for one calling service. The server refuses anyone else before the handler runs, with
   * {@code UNAUTHORIZED} (sign in could help) or {@code FORBIDDEN}, counts it per endpoint
   * ({@code skiff.server.endpoint.NAME.denied}) and writes it to the audit log (docs/security.md).
   * Without it the endpoint gets {@link Access#byDefault()}: open to authenticated services, closed to
   * people without {@code ADMIN}.
   *
   * @param access who may call
   * @return a copy with it
   */
  public Endpoint<Q, R> withAccess(Access access) {
    return new Endpoint<>(name, requestType, responseType, handler, idempotent, nonBlocking, sla, Objects.requireNonNull(access, "access"));
  }

  /**
   * What an endpoint is expected to deliver. Immutable.
   *
   * @param mean the expected mean handler time
   * @param p95 the expected 95th-percentile handler time
   * @param maxErrorRate the largest tolerated share (0 to 1) of requests failing through the service's
   *     fault (INTERNAL, TIMEOUT, CAPACITY, UNAVAILABLE, UNKNOWN_OUTCOME)
   */
  public record Sla(Duration mean, Duration p95, double maxErrorRate) {
    /** The error rate tolerated when none is given: 5%. */
    public static final double DEFAULT_MAX_ERROR_RATE = 0.05;

    /** Checks the arguments. */
    public Sla {
      Objects.requireNonNull(mean, "mean");
      Objects.requireNonNull(p95, "p95");
      if (mean.isNegative() || mean.isZero() || p95.isNegative() || p95.isZero()) {
        throw new IllegalArgumentException("SLA latencies must be positive: mean " + mean + ", p95 " + p95);
      }
      if (p95.compareTo(mean) < 0) {
        throw new IllegalArgumentException("SLA p95 (" + p95 + ") must not be below its mean (" + mean + ")");
      }
      if (!(maxErrorRate >= 0 && maxErrorRate <= 1)) {
        throw new IllegalArgumentException("SLA maxErrorRate must be between 0 and 1: " + maxErrorRate);
      }
    }
  }

  /** @return the request type's default instance, used to decode requests */
  public Q requestPrototype() {
    return dev.skiff.platform.internal.Codec.prototype(requestType);
  }
}
