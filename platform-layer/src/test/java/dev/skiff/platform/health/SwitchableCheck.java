package dev.skiff.platform.health;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A PAGE-priority health check for tests, run at the interval given: healthy until the test gives it a
 * reason to fail ({@link #fail}), then it throws an IllegalStateException with that reason, as a check
 * whose dependency broke does.
 */
public final class SwitchableCheck extends HealthCheck {
  private final AtomicReference<String> failure = new AtomicReference<>();
  private final Duration interval;
  private final String healthy;

  /**
   * @param interval how often the check runs
   * @param healthy its message while healthy
   */
  public SwitchableCheck(Duration interval, String healthy) {
    this.interval = interval;
    this.healthy = healthy;
  }

  /** @param why the reason each run of the check fails with from now on */
  public void fail(String why) {
    failure.set(why);
  }

  @Override
  protected Result check() {
    String why = failure.get();
    if (why != null) {
      throw new IllegalStateException(why);
    }
    return Result.healthy(healthy);
  }

  @Override
  public Duration interval() {
    return interval;
  }

  @Override
  public Priority priority() {
    return Priority.PAGE;
  }
}
