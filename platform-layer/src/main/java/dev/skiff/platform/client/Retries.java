package dev.skiff.platform.client;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.RpcProgress;
import dev.skiff.platform.SkiffException;
import java.util.Objects;
import java.util.function.DoubleSupplier;

/**
 * Decides whether a failed attempt is tried again, and after how long (docs/reliability.md): only an
 * error that is transient (UNAVAILABLE, CAPACITY, a TIMEOUT of one attempt shorter than the call,
 * UNKNOWN_OUTCOME), only for an idempotent endpoint or a request that certainly reached no server
 * ({@link RpcProgress#reachedNoServer()}), only within the policy's attempts, and only if the next attempt can
 * start at least {@link #MIN_ATTEMPT_MILLIS} before the call's deadline. The delay is the policy's
 * backoff for the attempt, times a random factor from 0.5 to 1.5 (jitter, so that callers failed by the
 * same outage do not come back at the same moment). Pure logic; thread-safe.
 */
final class Retries {
  /** A retry is not worth sending with less time than this left before the call's deadline. */
  static final long MIN_ATTEMPT_MILLIS = 10;

  private final RetryPolicy policy;
  private final DoubleSupplier random;

  /**
   * @param policy attempts and backoff
   * @param random uniform in [0, 1): the jitter's source
   */
  Retries(RetryPolicy policy, DoubleSupplier random) {
    this.policy = Objects.requireNonNull(policy, "policy");
    this.random = Objects.requireNonNull(random, "random");
  }

  /**
   * Whether an error was raised further down than the endpoint called: by another service or endpoint,
   * whose failure the called handler relayed (docs/wire-protocol.md, "Errors from nested calls"). Such
   * an error is never retried here: the client nearest its cause already retried it as its policy
   * allowed, and retrying again at every hop would multiply the attempts that reach a struggling
   * service by the attempts of each hop (as gRPC advises, retries happen at one layer).
   *
   * @param error how an attempt failed
   * @param service the service called
   * @param endpoint the endpoint called
   * @return true when the error names an origin other than the endpoint called
   */
  static boolean relayed(SkiffException error, String service, String endpoint) {
    return !error.service().isEmpty() && !(error.service().equals(service) && error.endpoint().equals(endpoint));
  }

  /**
   * @param attempt the attempt that failed, from 1
   * @param error how it failed
   * @param idempotent whether the endpoint may run a request twice
   * @param nowMillis the time now
   * @param deadlineMillis the call's deadline
   * @return the delay before the next attempt, in milliseconds, or -1 when the call must not be retried
   */
  long delayMillis(int attempt, SkiffException error, boolean idempotent, long nowMillis, long deadlineMillis) {
    if (attempt >= policy.maxAttempts()) {
      return -1;
    }
    ErrorCode code = error.code();
    boolean transientError = code.isRetryable() || code == ErrorCode.UNKNOWN_OUTCOME;
    // a request that no server can have run may be sent again whatever its endpoint does
    boolean unsent = error.progress().reachedNoServer();
    if (!transientError || code == ErrorCode.CIRCUIT_OPEN || !(unsent || idempotent)) {
      return -1;
    }
    double jitter = 0.5 + random.getAsDouble();
    long delay = Math.round(policy.nominalBackoff(attempt + 1).toMillis() * jitter);
    // the next attempt must have time to do something before the call's deadline
    if (nowMillis + delay + MIN_ATTEMPT_MILLIS >= deadlineMillis) {
      return -1;
    }
    return delay;
  }
}
