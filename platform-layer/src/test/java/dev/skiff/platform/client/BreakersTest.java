package dev.skiff.platform.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.RpcProgress;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.client.Breakers.Evidence;
import org.junit.jupiter.api.Test;

/** What the end of a call tells a circuit breaker about the service (pure logic). */
class BreakersTest {
  private static SkiffException fromService(ErrorCode code) {
    return new SkiffException(code, "x").withOrigin("com.example.a", "e", "a-1", "r");
  }

  private static SkiffException local(ErrorCode code) {
    return new SkiffException(code, "x");
  }

  @Test
  void aSuccessAndTheCallersOwnMistakesSayTheServiceServed() {
    assertThat(Breakers.evidence(null)).isEqualTo(Evidence.SERVED);
    for (ErrorCode c : new ErrorCode[] {ErrorCode.BAD_REQUEST, ErrorCode.NOT_FOUND, ErrorCode.FORBIDDEN, ErrorCode.UNAUTHORIZED, ErrorCode.CONFLICT}) {
      assertThat(Breakers.evidence(fromService(c))).as(c.name()).isEqualTo(Evidence.SERVED);
    }
  }

  @Test
  void timeoutsFullQueuesBreakageAndUnavailabilityAnsweredByTheServiceSayItIsFailing() {
    for (ErrorCode c : new ErrorCode[] {ErrorCode.TIMEOUT, ErrorCode.CAPACITY, ErrorCode.INTERNAL, ErrorCode.UNAVAILABLE}) {
      assertThat(Breakers.evidence(fromService(c))).as(c.name()).isEqualTo(Evidence.FAILING);
    }
    // no reply within the deadline, and a full queue refused by the broker: no instance, still the service
    assertThat(Breakers.evidence(local(ErrorCode.TIMEOUT))).isEqualTo(Evidence.FAILING);
    assertThat(Breakers.evidence(local(ErrorCode.CAPACITY))).isEqualTo(Evidence.FAILING);
  }

  @Test
  void anInstanceGoneAwayALostConnectionAndAnUnsentRequestSayNothingOfTheService() {
    assertThat(Breakers.evidence(fromService(ErrorCode.UNKNOWN_OUTCOME))).isEqualTo(Evidence.NONE);
    assertThat(Breakers.evidence(local(ErrorCode.UNAVAILABLE))).as("this side's broker connection").isEqualTo(Evidence.NONE);
    assertThat(Breakers.evidence(local(ErrorCode.CIRCUIT_OPEN))).isEqualTo(Evidence.NONE);
    for (ErrorCode c : new ErrorCode[] {ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE, ErrorCode.CAPACITY}) {
      assertThat(Breakers.evidence(local(c).withProgress(RpcProgress.NOT_SENT))).as(c.name() + " not sent").isEqualTo(Evidence.NONE);
    }
    assertThat(Breakers.evidence(local(ErrorCode.NOT_FOUND).withProgress(RpcProgress.NOT_RECEIVED)))
        .as("routed to no queue: no instance saw it").isEqualTo(Evidence.NONE);
  }

  @Test
  void optionsRefuseAWindowThatIsNotWholeSeconds() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> BreakerOptions.defaults().withWindow(java.time.Duration.ofMillis(1500), 10))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("window must be a whole number of seconds");
  }
}
