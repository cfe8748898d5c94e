package dev.skiff.platform.client;

import java.time.Duration;

/**
 * How a client's circuit breakers behave (docs/reliability.md). A client keeps one breaker per service
 * and endpoint; it counts the calls that fail in a way that says the service is unhealthy (TIMEOUT,
 * UNAVAILABLE, CAPACITY, INTERNAL, UNKNOWN_OUTCOME; not the caller's own mistakes) over a window of
 * recent calls. When at least {@code failureRatePercent} of them failed, and the window holds at least
 * {@code minimumCalls}, the breaker opens: calls fail at once with CIRCUIT_OPEN and nothing is sent.
 * After {@code openFor}, {@code trialCalls} calls go through; if they succeed it closes again, if they
 * fail it opens again.
 *
 * @param windowCalls how many recent calls the failure rate is measured over
 * @param minimumCalls how many calls the window must hold before the breaker may open
 * @param failureRatePercent the failure rate, 1 to 100, at which it opens
 * @param openFor how long it stays open before letting trial calls through
 * @param trialCalls how many trial calls decide whether it closes
 */
public record BreakerOptions(int windowCalls, int minimumCalls, int failureRatePercent, Duration openFor, int trialCalls) {
  /** Checks the values, naming the one that is wrong. */
  public BreakerOptions {
    if (windowCalls < 1) {
      throw new IllegalArgumentException("windowCalls must be at least 1: " + windowCalls);
    }
    if (minimumCalls < 1) {
      throw new IllegalArgumentException("minimumCalls must be at least 1: " + minimumCalls);
    }
    if (failureRatePercent < 1 || failureRatePercent > 100) {
      throw new IllegalArgumentException("failureRatePercent must be from 1 to 100: " + failureRatePercent);
    }
    if (openFor == null || openFor.isNegative() || openFor.isZero()) {
      throw new IllegalArgumentException("openFor must be positive: " + openFor);
    }
    if (trialCalls < 1) {
      throw new IllegalArgumentException("trialCalls must be at least 1: " + trialCalls);
    }
  }

  /**
   * The default: opens when at least half of the last 20 calls (10 at least) failed; trial calls (3)
   * after 5 s.
   *
   * @return the defaults
   */
  public static BreakerOptions defaults() {
    return new BreakerOptions(20, 10, 50, Duration.ofSeconds(5), 3);
  }

  /** @param d how long it stays open @return a copy with it */
  public BreakerOptions withOpenFor(Duration d) {
    return new BreakerOptions(windowCalls, minimumCalls, failureRatePercent, d, trialCalls);
  }

  /**
   * @param calls the window's size
   * @param minimum how many calls it must hold before the breaker may open
   * @return a copy with them
   */
  public BreakerOptions withWindow(int calls, int minimum) {
    return new BreakerOptions(calls, minimum, failureRatePercent, openFor, trialCalls);
  }

  /** @param percent the failure rate at which it opens @return a copy with it */
  public BreakerOptions withFailureRatePercent(int percent) {
    return new BreakerOptions(windowCalls, minimumCalls, percent, openFor, trialCalls);
  }

  /** @param calls how many trial calls decide whether it closes @return a copy with it */
  public BreakerOptions withTrialCalls(int calls) {
    return new BreakerOptions(windowCalls, minimumCalls, failureRatePercent, openFor, calls);
  }
}
