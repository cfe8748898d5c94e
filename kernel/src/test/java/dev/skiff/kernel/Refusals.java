package dev.skiff.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import java.util.function.Supplier;

/** Assertions that a kernel service refused a call: with which code, and saying what. */
public final class Refusals {
  private Refusals() {}

  /**
   * @param call a call that must be refused
   * @return the refusal
   * @throws AssertionError when the call was not refused
   */
  public static SkiffException refusal(Supplier<?> call) {
    try {
      call.get();
    } catch (SkiffException e) {
      return e;
    }
    throw new AssertionError("the call was not refused");
  }

  /**
   * Asserts that a call is refused with a code and a message containing the given words.
   *
   * @param call the call
   * @param code the code it must be refused with
   * @param words words the refusal's message must contain
   */
  public static void assertRefused(Supplier<?> call, ErrorCode code, String... words) {
    SkiffException e = refusal(call);
    assertThat(e.code()).as(e.getMessage()).isEqualTo(code);
    if (words.length > 0) {
      assertThat(e.getMessage()).contains(words);
    }
  }
}
