package dev.skiff.platform.client;

import java.time.Duration;

/**
 * How a client's circuit breakers behave (docs/reliability.md). A client keeps one breaker per service
 * and endpoint. It judges the calls that ended in the last {@code window}: a call counts as failed when
 * its failure says the <em>service</em> is unhealthy (TIMEOUT, CAPACITY, INTERNAL, or UNAVAILABLE
 * answered by the service); a call the service answered, even with the caller's own mistake, counts as
 * served; and a failure that says nothing of the service is not counted at all (UNKNOWN_OUTCOME, which
 * says an instance went away with the request; a request that never left this process; the connection
 * to the broker being lost). When the window holds at least {@code minimumCalls} counted calls and at
 * least {@code failureRatePercent} of them failed, the breaker opens: calls fail at once with
 * CIRCUIT_OPEN and nothing is sent. After {@code openFor}, {@code trialCalls} calls go through; if
 * they succeed it closes again, if they fail it opens again.
 *
 * @param window how far back the failure rate is measured: whole seconds, at least one
 * @param minimumCalls how many counted calls the window must hold before the breaker may open
 * @param failureRatePercent the failure rate, 1 to 100, at which it opens
 * @param openFor how long it stays open before letting trial calls through
 * @param trialCalls how many trial calls decide whether it closes
 */
public record BreakerOptions(Duration window, int minimumCalls, int failureRatePercent, Duration openFor, int trialCalls) {
  /** Checks the values, naming the one that is wrong. */
  public BreakerOptions {
    if (window == null || window.toMillis() < 1000 || window.toMillis() % 1000 != 0) {
      throw new IllegalArgumentException("window must be a whole number of seconds, at least 1 s: " + window);
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
   * The default: opens when at least half of the calls of the last 10 s failed, once those are at
   * least 50 (well above a client's usual concurrency, so that one burst of failures — the calls in
   * flight on an instance that died — cannot open it alone); 3 trial calls after 5 s. The reasons are
   * in docs/reliability.md.
   *
   * @return the defaults
   */
  public static BreakerOptions defaults() {
    return new BreakerOptions(Duration.ofSeconds(10), 50, 50, Duration.ofSeconds(5), 3);
  }

  /** @param d how long it stays open @return a copy with it */
  public BreakerOptions withOpenFor(Duration d) {
    return new BreakerOptions(window, minimumCalls, failureRatePercent, d, trialCalls);
  }

  /**
   * @param window how far back the failure rate is measured (whole seconds)
   * @param minimum how many counted calls it must hold before the breaker may open
   * @return a copy with them
   */
  public BreakerOptions withWindow(Duration window, int minimum) {
    return new BreakerOptions(window, minimum, failureRatePercent, openFor, trialCalls);
  }

  /** @param percent the failure rate at which it opens @return a copy with it */
  public BreakerOptions withFailureRatePercent(int percent) {
    return new BreakerOptions(window, minimumCalls, percent, openFor, trialCalls);
  }

  /** @param calls how many trial calls decide whether it closes @return a copy with it */
  public BreakerOptions withTrialCalls(int calls) {
    return new BreakerOptions(window, minimumCalls, failureRatePercent, openFor, calls);
  }
}
