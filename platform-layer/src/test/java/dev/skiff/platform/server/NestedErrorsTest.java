package dev.skiff.platform.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.Callee;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.proto.v1.Error;
import org.junit.jupiter.api.Test;

/** What a nested call's error that escapes a handler is answered as (docs/wire-protocol.md), as pure logic. */
class NestedErrorsTest {
  private static final Callee PAYMENTS = new Callee("com.example.payments", "charge", false);

  /** An error as payments answered it and checkout's client marked it. */
  private static SkiffException answered(ErrorCode code) {
    return SkiffException.fromProto(
            Error.newBuilder().setCode(code.toProto()).setDescription("amount_pence must be positive").putContext("field", "amount_pence")
                .setService(PAYMENTS.service()).setEndpoint(PAYMENTS.endpoint()).setInstance("p1").setRequestId("r2").build())
        .fromCallTo(PAYMENTS);
  }

  private static SkiffException answerFor(SkiffException e) {
    return NestedErrors.answerFor(e, "com.example.checkout", "pay", "r1");
  }

  @Test
  void everyCodeOfACallersFaultBecomesInternalNamingTheCalleeAndItsCodeButNotItsDescription() {
    for (ErrorCode code : ErrorCode.values()) {
      SkiffException out = answerFor(answered(code));
      boolean callersFault = switch (code) {
        case BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT -> true;
        default -> false;
      };
      if (callersFault) {
        assertThat(out.code()).as(code.name()).isEqualTo(ErrorCode.INTERNAL);
        assertThat(out.service()).as("raised by checkout itself: the server fills it in").isEmpty();
        assertThat(out.description()).contains("com.example.payments/charge").contains(code.name()).contains("r1")
            .doesNotContain("amount_pence");
        assertThat(out.context()).containsEntry("callee", "com.example.payments/charge").containsEntry("callee_code", code.name())
            .doesNotContainKey("field");
      } else if (code == ErrorCode.CIRCUIT_OPEN) {
        assertThat(out.code()).isEqualTo(ErrorCode.UNAVAILABLE);
      } else {
        assertThat(out.code()).as(code.name()).isEqualTo(code);
        assertThat(out.description()).isEqualTo("amount_pence must be positive");
        assertThat(out.service()).isEqualTo(PAYMENTS.service());
        assertThat(out.instance()).isEqualTo("p1");
      }
      assertThat(out.callee()).as("no mark leaves the handler").isEmpty();
    }
  }

  @Test
  void theHandlersOwnErrorsAndDeliberatePassThroughsAreAnsweredAsTheyAre() {
    SkiffException own = new SkiffException(ErrorCode.BAD_REQUEST, "order_id is required");
    assertThat(answerFor(own)).isSameAs(own);
    SkiffException passed = answered(ErrorCode.NOT_FOUND).passThrough();
    assertThat(answerFor(passed)).isSameAs(passed);
    assertThat(passed.code()).isEqualTo(ErrorCode.NOT_FOUND);
    assertThat(passed.service()).isEqualTo(PAYMENTS.service());
    // a copy with more context keeps the mark: adding detail is not passing it on
    assertThat(answerFor(answered(ErrorCode.BAD_REQUEST).withContext("order", "7")).code()).isEqualTo(ErrorCode.INTERNAL);
  }

  @Test
  void aTransientVerdictOfCheckoutsOwnClientIsAnsweredAsRaisedAtTheCalleeSoItsCallerDoesNotRetryIt() {
    SkiffException timeout = new SkiffException(ErrorCode.TIMEOUT, "no reply from com.example.payments/charge within 500 ms")
        .fromCallTo(PAYMENTS);
    SkiffException out = answerFor(timeout);
    assertThat(out.code()).isEqualTo(ErrorCode.TIMEOUT);
    assertThat(out.service()).isEqualTo(PAYMENTS.service());
    assertThat(out.endpoint()).isEqualTo("charge");
    assertThat(out.instance()).as("no instance of payments answered").isEmpty();
    SkiffException open = answerFor(new SkiffException(ErrorCode.CIRCUIT_OPEN, "the circuit is open").fromCallTo(PAYMENTS));
    assertThat(open.code()).isEqualTo(ErrorCode.UNAVAILABLE);
    assertThat(open.service()).isEqualTo(PAYMENTS.service());
    assertThat(open.instance()).isEmpty();
    assertThat(open.context()).containsEntry("callee_code", "CIRCUIT_OPEN");
  }

  @Test
  void anAccessRefusalOfACallMadeForTheCallersUserIsAboutThatUserAndIsAnsweredAsItIs() {
    Callee forUser = new Callee(PAYMENTS.service(), PAYMENTS.endpoint(), true);
    for (ErrorCode code : new ErrorCode[] {ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN}) {
      SkiffException refused = new SkiffException(code, "needs the role PAYMENTS.REFUND").fromCallTo(forUser);
      SkiffException out = answerFor(refused);
      assertThat(out.code()).isEqualTo(code);
      assertThat(out.description()).isEqualTo("needs the role PAYMENTS.REFUND");
      assertThat(out.callee()).isEmpty();
    }
    // the user's token went with the call, but a bad request is still the handler's
    assertThat(answerFor(new SkiffException(ErrorCode.BAD_REQUEST, "x").fromCallTo(forUser)).code()).isEqualTo(ErrorCode.INTERNAL);
  }

  @Test
  void aCalleeNameTheHandlerWasSentIsShownEscapedAndCut() {
    Callee hostile = new Callee("\u001b[2J" + "x".repeat(10_000), "echo", false);
    SkiffException out = answerFor(new SkiffException(ErrorCode.BAD_REQUEST, "invalid service name").fromCallTo(hostile));
    assertThat(out.code()).isEqualTo(ErrorCode.INTERNAL);
    assertThat(out.description()).doesNotContain("\u001b").contains("\\u001b[2J").hasSizeLessThan(400);
    assertThat(out.context().get("callee")).doesNotContain("\u001b").hasSizeLessThan(100);
  }
}
