package dev.skiff.service.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.codahale.metrics.Counter;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** When a watchdog rebuilds: after the grace, then spaced by a doubling backoff that only failures keep. */
class StallWatchTest {
  private static final long S = Duration.ofSeconds(1).toNanos();
  private final Counter rebuilds = new Counter();
  private final StallWatch watch = new StallWatch(Duration.ofSeconds(2), Duration.ofSeconds(10), Duration.ofSeconds(35), rebuilds);

  @Test
  void aStallIsRebuiltOnceItLastedTheGrace() {
    assertThat(watch.stalled(100 * S)).isFalse();
    assertThat(watch.stalled(101 * S)).isFalse();
    assertThat(watch.stalledFor(101 * S)).isEqualTo(Duration.ofSeconds(1));
    assertThat(watch.stalled(102 * S)).as("2 s: the grace").isTrue();
    watch.rebuilt();
    assertThat(watch.rebuilds()).isEqualTo(1);
    assertThat(rebuilds.getCount()).isEqualTo(1);
  }

  @Test
  void rebuildsThatDidNotHelpAreSpacedByADoublingBackoffUpToItsMaximum() {
    watch.stalled(0);
    assertThat(watch.stalled(2 * S)).isTrue();
    assertThat(watch.stalled(11 * S)).as("within the first backoff, 10 s").isFalse();
    assertThat(watch.stalled(12 * S)).isTrue();
    assertThat(watch.stalled(31 * S)).as("the backoff doubled: 20 s").isFalse();
    assertThat(watch.stalled(32 * S)).isTrue();
    assertThat(watch.stalled(66 * S)).as("35 s at most, not 40").isFalse();
    assertThat(watch.stalled(67 * S)).isTrue();
    assertThat(watch.stalled(101 * S)).isFalse();
    assertThat(watch.stalled(102 * S)).isTrue();
    assertThat(watch.stalledFor(102 * S)).as("the stall goes on through rebuilds that did not help").isEqualTo(Duration.ofSeconds(102));
  }

  @Test
  void onceNothingStallsTheGraceAndTheBackoffStartAgain() {
    watch.stalled(0);
    assertThat(watch.stalled(2 * S)).isTrue();
    assertThat(watch.stalled(4 * S)).isFalse();
    watch.clear();
    assertThat(watch.stalledFor(5 * S)).isEqualTo(Duration.ZERO);
    assertThat(watch.stalled(5 * S)).as("a new stall waits for the grace again").isFalse();
    assertThat(watch.stalled(7 * S)).as("but not for the backoff of the rebuild that helped").isTrue();
    assertThat(watch.stalled(16 * S)).as("and the backoff is the first again").isFalse();
    assertThat(watch.stalled(17 * S)).isTrue();
  }

  @Test
  void aForgottenStallWaitsForTheGraceAgainButKeepsTheBackoff() {
    watch.stalled(0);
    assertThat(watch.stalled(2 * S)).isTrue();
    watch.forget();
    assertThat(watch.stalled(10 * S)).isFalse();
    assertThat(watch.stalled(11 * S)).as("the grace has not passed since the stall was forgotten").isFalse();
    assertThat(watch.stalled(12 * S)).as("the grace has passed, and the backoff (10 s after the rebuild at 2 s)").isTrue();
    watch.forget();
    assertThat(watch.stalled(13 * S)).isFalse();
    assertThat(watch.stalled(15 * S)).as("the grace has passed, but the backoff is now 20 s").isFalse();
    assertThat(watch.stalled(32 * S)).isTrue();
  }
}
