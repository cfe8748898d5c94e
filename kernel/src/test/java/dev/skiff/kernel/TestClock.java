package dev.skiff.kernel;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/** A clock in UTC that stands still until the test moves it. Thread-safe. */
public final class TestClock extends Clock {
  private volatile Instant now;

  /** @param start the time the clock shows until moved */
  public TestClock(Instant start) {
    this.now = start;
  }

  /**
   * Moves the clock on.
   *
   * @param d how far
   */
  public synchronized void advance(Duration d) {
    now = now.plus(d);
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    return this;
  }

  @Override
  public Instant instant() {
    return now;
  }
}
