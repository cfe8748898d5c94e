package dev.skiff.platform.internal;

import java.time.Clock;
import java.time.Instant;

/** The time as microseconds since the epoch, as spans record it. Not API. */
public final class EpochMicros {
  private EpochMicros() {}

  /**
   * The time a call or request began, for its span: to the microsecond when its trace is recorded (as
   * finely as the clock gives it), else to the millisecond (cheaper, and no span shows it).
   *
   * @param clock a clock
   * @param sampled whether its trace is recorded
   * @return microseconds since the epoch
   */
  public static long start(Clock clock, boolean sampled) {
    if (!sampled) {
      return clock.millis() * 1000;
    }
    Instant now = clock.instant();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1000;
  }
}
