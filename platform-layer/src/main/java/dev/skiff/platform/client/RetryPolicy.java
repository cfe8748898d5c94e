package dev.skiff.platform.client;

import java.time.Duration;
import java.util.Objects;

/**
 * When a client tries a call again. A call is retried only when all of these hold:
 *
 * <ul>
 *   <li>its endpoint is idempotent: declared so by the service (learned from its replies) or by the
 *       caller ({@link CallOptions#withIdempotent(boolean)});
 *   <li>the attempt failed with a retryable code ({@link dev.skiff.platform.ErrorCode#isRetryable()}:
 *       UNAVAILABLE, CAPACITY, TIMEOUT of an attempt shorter than the call), or UNKNOWN_OUTCOME;
 *   <li>attempts remain, and the backoff still ends before the call's deadline.
 * </ul>
 *
 * Every attempt carries the same request id, so a server that already answered it replies from its
 * cache instead of running the handler again. Backoff grows exponentially from {@code initialBackoff}
 * to at most {@code maxBackoff}, each delay drawn at random between half and one and a half times its
 * nominal value (jitter), so that callers failing together do not retry together.
 *
 * @param maxAttempts attempts in all, including the first (1 = no retries)
 * @param initialBackoff the nominal delay before the second attempt
 * @param maxBackoff the largest nominal delay
 * @param perAttemptTimeout how long one attempt may take, or null to give each attempt all the time
 *     left until the call's deadline (then a timed-out attempt leaves no time to retry)
 */
public record RetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff, Duration perAttemptTimeout) {

  /** Checks the arguments. */
  public RetryPolicy {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1: " + maxAttempts);
    }
    Objects.requireNonNull(initialBackoff, "initialBackoff");
    Objects.requireNonNull(maxBackoff, "maxBackoff");
    if (initialBackoff.isNegative() || maxBackoff.compareTo(initialBackoff) < 0) {
      throw new IllegalArgumentException("need 0 <= initialBackoff <= maxBackoff: " + initialBackoff + ", " + maxBackoff);
    }
    if (perAttemptTimeout != null && (perAttemptTimeout.isNegative() || perAttemptTimeout.isZero())) {
      throw new IllegalArgumentException("perAttemptTimeout must be positive: " + perAttemptTimeout);
    }
  }

  /** @return 3 attempts, backoff from 50 ms to 1 s, each attempt given all the time left */
  public static RetryPolicy defaults() {
    return new RetryPolicy(3, Duration.ofMillis(50), Duration.ofSeconds(1), null);
  }

  /** @return a policy that never retries */
  public static RetryPolicy none() {
    return new RetryPolicy(1, Duration.ZERO, Duration.ZERO, null);
  }

  /** @param attempts attempts in all @return a copy */
  public RetryPolicy withMaxAttempts(int attempts) {
    return new RetryPolicy(attempts, initialBackoff, maxBackoff, perAttemptTimeout);
  }

  /** @param timeout how long one attempt may take @return a copy */
  public RetryPolicy withPerAttemptTimeout(Duration timeout) {
    return new RetryPolicy(maxAttempts, initialBackoff, maxBackoff, timeout);
  }

  /** @param initial the first delay @param max the largest delay @return a copy */
  public RetryPolicy withBackoff(Duration initial, Duration max) {
    return new RetryPolicy(maxAttempts, initial, max, perAttemptTimeout);
  }

  /**
   * The nominal delay before an attempt.
   *
   * @param attempt the attempt about to be made (2 for the first retry)
   * @return the delay before jitter
   */
  Duration nominalBackoff(int attempt) {
    long millis = initialBackoff.toMillis();
    for (int i = 2; i < attempt && millis < maxBackoff.toMillis(); i++) {
      millis *= 2;
    }
    return Duration.ofMillis(Math.min(millis, maxBackoff.toMillis()));
  }
}
