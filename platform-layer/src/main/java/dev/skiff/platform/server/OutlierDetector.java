package dev.skiff.platform.server;

import java.util.Arrays;
import java.util.Locale;

/**
 * The decision behind {@link Rotation}, with no threads, clock or transport: counts this instance's own
 * outcomes per second over the window and, once a second, compares them with its peers' to say whether
 * it steps aside (see {@link OutlierOptions}) or, being aside, comes back.
 *
 * <p>Its own outcomes are recorded from many threads; {@link #evaluate} runs on one. Thread-safe.
 */
final class OutlierDetector {
  /** What {@link #evaluate} decided. */
  enum Action {
    /** Nothing changes. */
    NONE,
    /** Step aside now. */
    EJECT,
    /** Come back now. */
    RETURN
  }

  private static final String WAITING = "; now waiting for its other healthchecks to pass";

  private final OutlierOptions options;
  private final int seconds;
  private final long[] stamp;
  private final long[] requests;
  private final long[] failures;
  private boolean in = true;
  private long outUntilMillis;
  private long inSinceMillis;
  private int consecutive;
  private String reason = "in rotation";

  OutlierDetector(OutlierOptions options, long nowMillis) {
    this.options = options;
    this.seconds = (int) Math.max(1, options.window().toSeconds());
    this.stamp = new long[seconds];
    this.requests = new long[seconds];
    this.failures = new long[seconds];
    this.inSinceMillis = nowMillis;
    Arrays.fill(stamp, -1);
  }

  /**
   * Counts one request this instance finished.
   *
   * @param nowMillis when
   * @param failed whether it failed by this instance's fault
   */
  synchronized void record(long nowMillis, boolean failed) {
    long second = nowMillis / 1000;
    int i = (int) Math.floorMod(second, (long) seconds);
    if (stamp[i] != second) {
      stamp[i] = second;
      requests[i] = 0;
      failures[i] = 0;
    }
    requests[i]++;
    if (failed) {
      failures[i]++;
    }
  }

  /**
   * This instance's own outcomes over the window ending now.
   *
   * @param nowMillis now
   * @return its counts
   */
  synchronized PeerOutcomes.Counts own(long nowMillis) {
    long second = nowMillis / 1000;
    long r = 0;
    long f = 0;
    for (int i = 0; i < seconds; i++) {
      if (stamp[i] > second - seconds && stamp[i] <= second) {
        r += requests[i];
        f += failures[i];
      }
    }
    return new PeerOutcomes.Counts(r, f);
  }

  /**
   * Decides, once a second.
   *
   * @param nowMillis now
   * @param peers what the other instances served over the window
   * @param othersHealthy whether every other healthcheck of the instance passes
   * @return what to do
   */
  synchronized Action evaluate(long nowMillis, PeerOutcomes.Counts peers, boolean othersHealthy) {
    if (!in) {
      if (nowMillis < outUntilMillis) {
        return Action.NONE;
      }
      if (!othersHealthy) {
        if (!reason.contains(WAITING)) {
          reason += WAITING;
        }
        return Action.NONE;
      }
      in = true;
      inSinceMillis = nowMillis;
      Arrays.fill(stamp, -1);
      reason = "back in rotation after " + consecutive + (consecutive == 1 ? " ejection" : " consecutive ejections");
      return Action.RETURN;
    }
    if (consecutive > 0 && nowMillis - inSinceMillis >= options.window().toMillis()) {
      consecutive = 0;
    }
    PeerOutcomes.Counts own = own(nowMillis);
    if (!isOutlier(own, peers)) {
      return Action.NONE;
    }
    long forMillis = ejectionMillis(consecutive);
    consecutive++;
    in = false;
    outUntilMillis = nowMillis + forMillis;
    reason = String.format(Locale.ROOT, "out of rotation for %s: %.0f%% of its %d requests in the last %d s failed"
        + " while its peers failed %.0f%% of %d", human(forMillis), own.failurePercent(), own.requests(),
        options.window().toSeconds(), peers.failurePercent(), peers.requests());
    return Action.EJECT;
  }

  private boolean isOutlier(PeerOutcomes.Counts own, PeerOutcomes.Counts peers) {
    return own.requests() >= options.minimumRequests()
        && own.failurePercent() >= options.failurePercent()
        && peers.requests() >= options.minimumRequests()
        && peers.failurePercent() <= options.peersMaxFailurePercent();
  }

  /** @return how long the ejection after {@code previous} consecutive ones lasts */
  private long ejectionMillis(int previous) {
    long max = options.maxEjectFor().toMillis();
    long d = options.ejectFor().toMillis();
    for (int i = 0; i < previous && d < max; i++) {
      d *= 2;
    }
    return Math.min(d, max);
  }

  private static String human(long millis) {
    return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
  }

  /** @return whether the instance is in rotation */
  synchronized boolean inRotation() {
    return in;
  }

  /** @return how many ejections in a row, without a full window in rotation between them */
  synchronized int consecutiveEjections() {
    return consecutive;
  }

  /** @return the last decision, in a sentence */
  synchronized String reason() {
    return reason;
  }
}
