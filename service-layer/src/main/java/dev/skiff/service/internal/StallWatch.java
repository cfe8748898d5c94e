package dev.skiff.service.internal;

import com.codahale.metrics.Counter;
import java.time.Duration;

/**
 * Decides when a store client's watchdog rebuilds its connection because the store's own reconnection
 * stalled: the store has answered a plain probe for a grace period while the client still could not use
 * it. A rebuild that did not help is tried again after a backoff, which doubles up to a maximum; the
 * backoff spaces only rebuilds that did not help and starts again once nothing stalls. Counts the
 * rebuilds ({@code NAME.rebuilds}).
 *
 * <p>Times are {@link System#nanoTime()} readings. Used by the watchdog's thread only, except
 * {@link #rebuilds()}.
 */
public final class StallWatch {
  private final long grace;
  private final Duration firstBackoff;
  private final Duration maxBackoff;
  private final Counter rebuilds;
  private boolean stalling;
  private long since;
  private boolean backingOff;
  private long nextRebuild;
  private Duration backoff;

  /**
   * @param grace how long the store must answer while the client cannot use it before a rebuild
   * @param firstBackoff how long after a rebuild that did not help the next may come
   * @param maxBackoff the longest backoff
   * @param rebuilds counts the rebuilds
   */
  public StallWatch(Duration grace, Duration firstBackoff, Duration maxBackoff, Counter rebuilds) {
    this.grace = grace.toNanos();
    this.firstBackoff = firstBackoff;
    this.maxBackoff = maxBackoff;
    this.rebuilds = rebuilds;
    this.backoff = firstBackoff;
  }

  /**
   * Nothing stalls (the client is served, or, as the client decides, the store does not answer either):
   * the stall so far is forgotten and the backoff starts again.
   */
  public void clear() {
    stalling = false;
    backingOff = false;
    backoff = firstBackoff;
  }

  /** The stall so far no longer counts (the client now uses other connections); the backoff stays. */
  public void forget() {
    stalling = false;
  }

  /**
   * The store answers a plain probe while the client cannot use it.
   *
   * @param now when this was seen
   * @return whether to rebuild now: it has been so for the grace period, and the backoff since the last
   *     rebuild has passed (the next waits for the backoff, now doubled)
   */
  public boolean stalled(long now) {
    if (!stalling) {
      stalling = true;
      since = now;
    }
    if (now - since < grace || (backingOff && now - nextRebuild < 0)) {
      return false;
    }
    backingOff = true;
    nextRebuild = now + backoff.toNanos();
    Duration twice = backoff.multipliedBy(2);
    backoff = twice.compareTo(maxBackoff) > 0 ? maxBackoff : twice;
    return true;
  }

  /**
   * @param now now
   * @return how long the store has answered while the client could not use it (zero when it does not stall)
   */
  public Duration stalledFor(long now) {
    return stalling ? Duration.ofNanos(now - since) : Duration.ZERO;
  }

  /** Counts a rebuild that was made. */
  public void rebuilt() {
    rebuilds.inc();
  }

  /** @return how many rebuilds were made */
  public long rebuilds() {
    return rebuilds.getCount();
  }
}
