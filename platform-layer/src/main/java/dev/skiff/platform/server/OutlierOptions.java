package dev.skiff.platform.server;

import java.time.Duration;
import java.util.Objects;

/**
 * When an instance takes itself out of rotation: it fails most of the requests it takes while the other
 * instances of its service, over the same window, succeed (outlier detection, as Envoy and Finagle do it,
 * but by the instance itself, since with competing consumers no caller can choose). Out of rotation it
 * takes no requests and reports itself unhealthy; after {@code ejectFor} it comes back once its other
 * healthchecks pass. See {@link ServerBuilder#outlierEjection}.
 *
 * <p>Failures that count are those the instance produced for requests it took: INTERNAL, UNAVAILABLE and
 * TIMEOUT. A caller's mistakes (BAD_REQUEST, NOT_FOUND, ...) and refusals for capacity do not.
 *
 * @param window how far back its own and its peers' requests are counted
 * @param minimumRequests how many requests it, and its peers together, must have served in the window
 *     before it is judged
 * @param failurePercent its own share of failed requests, in percent, at or above which it is an outlier
 * @param peersMaxFailurePercent the share of failures, in percent, its peers together may have at most for
 *     it to step aside: above it the whole service is failing, which is the callers' circuit breakers'
 *     business, and stepping aside would leave no instance
 * @param ejectFor how long it stays out the first time; doubled on each consecutive ejection
 * @param maxEjectFor the longest it stays out
 */
public record OutlierOptions(
    Duration window,
    int minimumRequests,
    int failurePercent,
    int peersMaxFailurePercent,
    Duration ejectFor,
    Duration maxEjectFor) {

  /** Checks the arguments. */
  public OutlierOptions {
    positive(window, "window");
    positive(ejectFor, "ejectFor");
    positive(maxEjectFor, "maxEjectFor");
    if (window.compareTo(Duration.ofSeconds(1)) < 0) {
      throw new IllegalArgumentException("outlier window must be at least 1 s (it is counted per second): " + window);
    }
    if (maxEjectFor.compareTo(ejectFor) < 0) {
      throw new IllegalArgumentException("outlier maxEjectFor " + maxEjectFor + " must not be shorter than ejectFor " + ejectFor);
    }
    if (minimumRequests < 1) {
      throw new IllegalArgumentException("outlier minimumRequests must be at least 1: " + minimumRequests);
    }
    if (failurePercent < 1 || failurePercent > 100) {
      throw new IllegalArgumentException("outlier failurePercent must be between 1 and 100: " + failurePercent);
    }
    if (peersMaxFailurePercent < 0 || peersMaxFailurePercent >= failurePercent) {
      throw new IllegalArgumentException("outlier peersMaxFailurePercent must be at least 0 and below failurePercent ("
          + failurePercent + "): " + peersMaxFailurePercent);
    }
  }

  private static void positive(Duration d, String name) {
    Objects.requireNonNull(d, name);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("outlier " + name + " must be positive: " + d);
    }
  }

  /**
   * A window of 30 s, judged from 20 requests, out at 50% failures while the peers fail at most 10%, for
   * 10 s doubling up to 5 minutes.
   *
   * @return the defaults
   */
  public static OutlierOptions defaults() {
    return new OutlierOptions(Duration.ofSeconds(30), 20, 50, 10, Duration.ofSeconds(10), Duration.ofMinutes(5));
  }

  /** @param w the window @return a copy with it */
  public OutlierOptions withWindow(Duration w) {
    return new OutlierOptions(w, minimumRequests, failurePercent, peersMaxFailurePercent, ejectFor, maxEjectFor);
  }

  /** @param n the minimum number of requests @return a copy with it */
  public OutlierOptions withMinimumRequests(int n) {
    return new OutlierOptions(window, n, failurePercent, peersMaxFailurePercent, ejectFor, maxEjectFor);
  }

  /**
   * @param first how long the first ejection lasts
   * @param max the longest an ejection lasts
   * @return a copy with them
   */
  public OutlierOptions withEjectFor(Duration first, Duration max) {
    return new OutlierOptions(window, minimumRequests, failurePercent, peersMaxFailurePercent, first, max);
  }
}
