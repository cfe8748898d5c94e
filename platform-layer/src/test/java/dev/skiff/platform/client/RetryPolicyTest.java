package dev.skiff.platform.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The retry policy's own logic: its defaults and the nominal delays (docs/reliability.md, "Safe retries").
 * The jitter drawn around them, and the client waiting them out, are shown over both transports in
 * RpcContract.retryBackoffIsDrawnBetweenHalfAndOneAndAHalfTimesItsNominalDelayWhichDoubles.
 */
class RetryPolicyTest {

  @Test
  void theDefaultIsThreeAttemptsWithABackoffFromFiftyMillisecondsDoublingToOneSecond() {
    RetryPolicy p = RetryPolicy.defaults();
    assertThat(p.maxAttempts()).isEqualTo(3);
    assertThat(p.initialBackoff()).isEqualTo(Duration.ofMillis(50));
    assertThat(p.maxBackoff()).isEqualTo(Duration.ofSeconds(1));
    assertThat(p.perAttemptTimeout()).as("each attempt may use all the time left").isNull();
    // attempt 2 waits 50 ms, each later one twice the one before, never more than 1 s
    assertThat(IntStream.rangeClosed(2, 9).mapToObj(a -> p.nominalBackoff(a).toMillis()))
        .containsExactly(50L, 100L, 200L, 400L, 800L, 1000L, 1000L, 1000L);
  }

  @Test
  void theBackoffDoublesFromItsInitialDelayUpToItsMaximum() {
    RetryPolicy p = RetryPolicy.defaults().withMaxAttempts(10).withBackoff(Duration.ofMillis(30), Duration.ofMillis(200));
    assertThat(IntStream.rangeClosed(2, 7).mapToObj(a -> p.nominalBackoff(a).toMillis()))
        .containsExactly(30L, 60L, 120L, 200L, 200L, 200L);
    RetryPolicy flat = RetryPolicy.defaults().withBackoff(Duration.ofMillis(70), Duration.ofMillis(70));
    assertThat(flat.nominalBackoff(2)).isEqualTo(Duration.ofMillis(70));
    assertThat(flat.nominalBackoff(6)).isEqualTo(Duration.ofMillis(70));
  }

  @Test
  void noneNeverRetriesAndTheCopiesChangeOnlyWhatTheyName() {
    assertThat(RetryPolicy.none().maxAttempts()).isEqualTo(1);
    RetryPolicy p = RetryPolicy.defaults().withPerAttemptTimeout(Duration.ofSeconds(2)).withMaxAttempts(5);
    assertThat(p).isEqualTo(new RetryPolicy(5, Duration.ofMillis(50), Duration.ofSeconds(1), Duration.ofSeconds(2)));
  }

  @Test
  void nonsenseIsRefused() {
    assertThatThrownBy(() -> RetryPolicy.defaults().withMaxAttempts(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxAttempts must be at least 1");
    assertThatThrownBy(() -> RetryPolicy.defaults().withBackoff(Duration.ofMillis(100), Duration.ofMillis(50)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("initialBackoff <= maxBackoff");
    assertThatThrownBy(() -> RetryPolicy.defaults().withBackoff(Duration.ofMillis(-1), Duration.ofMillis(50)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RetryPolicy.defaults().withPerAttemptTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("perAttemptTimeout must be positive");
  }
}
