package dev.skiff.platform.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.RpcProgress;
import dev.skiff.platform.SkiffException;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

/** Retry decisions and backoff with jitter (docs/reliability.md "Safe retries"), as pure logic. */
class RetriesTest {
  private static final long NOW = 1_000_000;
  private static final long FAR = NOW + 3_600_000;
  private static final SkiffException UNAVAILABLE = new SkiffException(ErrorCode.UNAVAILABLE, "x");

  private static Retries fixed(double random) {
    return new Retries(RetryPolicy.defaults().withMaxAttempts(10), () -> random);
  }

  @Test
  void theBackoffStartsAt50MsAndDoublesUpTo1sEachTimesAFactorFromHalfToOneAndAHalf() {
    long[] nominal = {50, 100, 200, 400, 800, 1000, 1000, 1000, 1000};
    for (int attempt = 1; attempt <= 9; attempt++) {
      long n = nominal[attempt - 1];
      assertThat(fixed(0.0).delayMillis(attempt, UNAVAILABLE, true, NOW, FAR)).as("attempt %d, least jitter", attempt).isEqualTo(n / 2);
      assertThat(fixed(0.5).delayMillis(attempt, UNAVAILABLE, true, NOW, FAR)).as("attempt %d, middle", attempt).isEqualTo(n);
      assertThat(fixed(0.999_999).delayMillis(attempt, UNAVAILABLE, true, NOW, FAR)).as("attempt %d, most", attempt)
          .isEqualTo(Math.round(n * 1.499_999));
    }
  }

  @Test
  void jitterSpreadsRetriesOverTheWholeRange() {
    Retries r = new Retries(RetryPolicy.defaults(), () -> ThreadLocalRandom.current().nextDouble());
    long min = Long.MAX_VALUE;
    long max = 0;
    for (int i = 0; i < 10_000; i++) {
      long d = r.delayMillis(1, UNAVAILABLE, true, NOW, FAR);
      min = Math.min(min, d);
      max = Math.max(max, d);
    }
    assertThat(min).isBetween(25L, 27L);
    assertThat(max).isBetween(73L, 75L);
  }

  @Test
  void onlyTransientErrorsAreRetriedAndOnlyForIdempotentEndpointsOrUnsentRequests() {
    Retries r = fixed(0.5);
    for (ErrorCode c : ErrorCode.values()) {
      boolean transientError = c == ErrorCode.UNAVAILABLE || c == ErrorCode.CAPACITY || c == ErrorCode.TIMEOUT || c == ErrorCode.UNKNOWN_OUTCOME;
      assertThat(r.delayMillis(1, new SkiffException(c, "x"), true, NOW, FAR) >= 0).as(c.name()).isEqualTo(transientError);
    }
    assertThat(r.delayMillis(1, UNAVAILABLE, false, NOW, FAR)).as("sent, not idempotent").isEqualTo(-1);
    assertThat(r.delayMillis(1, UNAVAILABLE.withProgress(RpcProgress.NOT_SENT), false, NOW, FAR))
        .as("never sent: safe whatever the endpoint").isEqualTo(50);
    assertThat(r.delayMillis(1, new SkiffException(ErrorCode.CONFLICT, "x").withProgress(RpcProgress.NOT_SENT), false, NOW, FAR))
        .as("not sent, but not transient either").isEqualTo(-1);
    assertThat(r.delayMillis(1, UNAVAILABLE.withProgress(RpcProgress.NOT_RECEIVED), false, NOW, FAR))
        .as("routed to no queue: no server ran it, safe whatever the endpoint").isEqualTo(50);
    assertThat(r.delayMillis(1, new SkiffException(ErrorCode.NOT_FOUND, "x").withProgress(RpcProgress.NOT_RECEIVED), true, NOW, FAR))
        .as("a service not running is no transient error: not retried").isEqualTo(-1);
  }

  @Test
  void retriesStopAtThePolicysAttemptsAndWhenTheNextCouldNotStartBeforeTheDeadline() {
    Retries three = new Retries(RetryPolicy.defaults(), () -> 0.5);
    assertThat(three.delayMillis(2, UNAVAILABLE, true, NOW, FAR)).isEqualTo(100);
    assertThat(three.delayMillis(3, UNAVAILABLE, true, NOW, FAR)).as("three attempts made").isEqualTo(-1);
    // the next attempt (after 50 ms) must start at least 10 ms before the deadline
    assertThat(three.delayMillis(1, UNAVAILABLE, true, NOW, NOW + 61)).isEqualTo(50);
    assertThat(three.delayMillis(1, UNAVAILABLE, true, NOW, NOW + 60)).isEqualTo(-1);
    assertThat(new Retries(RetryPolicy.none(), () -> 0.5).delayMillis(1, UNAVAILABLE, true, NOW, FAR)).isEqualTo(-1);
    assertThat(new Retries(RetryPolicy.defaults().withBackoff(Duration.ofMillis(10), Duration.ofMillis(10)), () -> 0.5)
        .delayMillis(1, UNAVAILABLE, true, NOW, FAR)).isEqualTo(10);
  }

  @Test
  void anErrorRaisedByAnotherEndpointThanTheOneCalledWasRelayedAndIsNotRetriedHere() {
    SkiffException fromPayments = SkiffException.fromProto(
        new SkiffException(ErrorCode.CAPACITY, "x").withOrigin("com.example.payments", "charge", "p1", "r").toProto());
    assertThat(Retries.relayed(fromPayments, "com.example.checkout", "pay")).isTrue();
    assertThat(Retries.relayed(fromPayments, "com.example.payments", "refund")).isTrue();
    assertThat(Retries.relayed(fromPayments, "com.example.payments", "charge")).isFalse();
    assertThat(Retries.relayed(UNAVAILABLE, "com.example.checkout", "pay")).as("raised by this client").isFalse();
  }
}
