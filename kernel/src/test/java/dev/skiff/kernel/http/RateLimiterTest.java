package dev.skiff.kernel.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The token buckets on a clock the test moves: burst, refill, the wait it says, its bound and its counters. */
class RateLimiterTest {
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final MetricRegistry metrics = new MetricRegistry();

  @Test
  void aKeyGetsItsBurstThenOneRequestPerRefillAndSaysHowLongToWait() {
    RateLimiter limiter = new RateLimiter("test.rate", 2, 3, 100, now::get, metrics); // 2 a second, 3 at once
    for (int i = 0; i < 3; i++) {
      assertThat(limiter.acquire("a")).as("burst " + i).isEmpty();
    }
    OptionalLong wait = limiter.acquire("a");
    assertThat(wait).isPresent();
    assertThat(wait.getAsLong()).isBetween(TimeUnit.MILLISECONDS.toNanos(500) - 1, TimeUnit.MILLISECONDS.toNanos(500) + 1);
    assertThat(RateLimiter.retryAfterSeconds(wait.getAsLong())).isEqualTo(1);
    assertThat(limiter.acquire("b")).as("another key has its own bucket").isEmpty();

    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(499));
    assertThat(limiter.acquire("a")).isPresent();
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(2));
    assertThat(limiter.acquire("a")).as("one token refilled").isEmpty();
    assertThat(limiter.acquire("a")).isPresent();

    now.addAndGet(TimeUnit.SECONDS.toNanos(60));
    for (int i = 0; i < 3; i++) {
      assertThat(limiter.acquire("a")).as("refilled up to the burst, no further").isEmpty();
    }
    assertThat(limiter.acquire("a")).isPresent();
    assertThat(metrics.counter("test.rate.limited").getCount()).isEqualTo(4);
  }

  @Test
  void theTableIsBoundedAndAForgottenKeyStartsFull() {
    RateLimiter limiter = new RateLimiter("test.bounded", 1, 1, 10, now::get, metrics);
    for (int k = 0; k < 1000; k++) {
      assertThat(limiter.acquire("k" + k)).isEmpty();
    }
    assertThat(metrics.counter("test.bounded.evicted").getCount()).isGreaterThanOrEqualTo(990 - 10);
  }

  @Test
  void aSlowPaceSaysWholeSecondsToWait() {
    RateLimiter perMinute = new RateLimiter("test.minute", 1 / 60.0, 1, 10, now::get, metrics);
    assertThat(perMinute.acquire("a")).isEmpty();
    assertThat(RateLimiter.retryAfterSeconds(perMinute.acquire("a").orElseThrow())).isEqualTo(60);
    assertThat(RateLimiter.retryAfterSeconds(1)).as("never 0").isEqualTo(1);
  }

  @Test
  void aPacePerMinuteAllowsASixthOfItAtOnce() {
    RateLimiter pace = RateLimiter.perMinute("test.pace", 60, 10, metrics);
    for (int i = 0; i < 10; i++) {
      assertThat(pace.acquire("a")).as("burst " + i).isEmpty();
    }
    assertThat(pace.acquire("a")).isPresent();
    assertThat(RateLimiter.perMinute("test.slow", 5, 10, metrics).acquire("a")).as("a burst of at least one").isEmpty();
  }

  @Test
  void nonsenseSettingsAreRefused() {
    assertThatThrownBy(() -> new RateLimiter("x", 0, 1, 1, now::get, metrics)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new RateLimiter("x", 1, 0, 1, now::get, metrics)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new RateLimiter("x", 1, 1, 0, now::get, metrics)).isInstanceOf(IllegalArgumentException.class);
  }
}
