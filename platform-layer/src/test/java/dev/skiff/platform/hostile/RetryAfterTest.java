package dev.skiff.platform.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * How long an error asks its caller to wait comes from another process: only a plain count of
 * milliseconds is believed, and no more than a day of it.
 */
class RetryAfterTest {
  @Test
  void aWaitIsKeptAndAnythingElseInItsPlaceIsIgnored() {
    SkiffException e = new SkiffException(ErrorCode.CAPACITY, "locked");
    assertThat(e.retryAfter()).isEmpty();
    assertThat(e.withRetryAfter(Duration.ofSeconds(90)).retryAfter()).hasValue(Duration.ofSeconds(90));
    assertThat(e.withRetryAfter(Duration.ofSeconds(-5)).retryAfter()).hasValue(Duration.ZERO);
    assertThat(e.withRetryAfter(Duration.ofDays(400)).retryAfter()).hasValue(SkiffException.MAX_RETRY_AFTER);
    for (String hostile : new String[] {"", "-1", "1e9", "12 ", "99999999999999999999", "0x10", "1.5", "\u0661\u0662", "9999999999999999999"}) {
      assertThat(e.withContext(SkiffException.RETRY_AFTER_MS, hostile).retryAfter()).as("'%s'", hostile).isEmpty();
    }
    assertThat(e.withContext(SkiffException.RETRY_AFTER_MS, "9223372036854775807").retryAfter()).hasValue(SkiffException.MAX_RETRY_AFTER);
  }
}
