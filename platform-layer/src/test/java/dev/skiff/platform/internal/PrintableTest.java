package dev.skiff.platform.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import org.junit.jupiter.api.Test;

/** What reaches a terminal or a log line from untrusted text: no character that drives or reorders it. */
class PrintableTest {
  /** Clear the screen, set the window title, return to the line's start, reverse what follows, and more. */
  static final String HOSTILE = "a\u001b[2Jb\u001b]0;owned\u0007c\rd\u202ee\u2066f\u009b31mg\u200bh\u2028i\u0000j\u007fk\ud800l"
      + "\udb40\udc41m";

  @Test
  void controlFormatAndBidiCharactersAreEscapedAndTheRestKept() {
    assertThat(Printable.text(HOSTILE)).isEqualTo("a\\u001b[2Jb\\u001b]0;owned\\u0007c\\u000dd\\u202ee\\u2066f\\u009b31mg\\u200bh"
        + "\\u2028i\\u0000j\\u007fk\\ud800l\\udb40\\udc41m");
    assertThat(Printable.text("Grüße, 東京 🚀 tab\there")).isEqualTo("Grüße, 東京 🚀 tab\\u0009here");
  }

  @Test
  void cutAtTheBoundWithoutSplittingAPair() {
    assertThat(Printable.of("x".repeat(100))).hasSize(Printable.MAX_CHARS + 1).endsWith("…");
    assertThat(Printable.of("ab🚀", 3)).isEqualTo("ab…");
    assertThat(Printable.of(null)).isEqualTo("null");
  }

  @Test
  void jsonKeepsItsMeaningAndItsLayoutAndLosesEveryRawControlCharacter() throws Exception {
    Struct original = Struct.newBuilder().putFields("k\u001b", Value.newBuilder().setStringValue(HOSTILE + " \"q\" \\").build()).build();
    String json = JsonFormat.printer().print(original);
    String safe = Printable.json(json);
    assertThat(safe).contains("\n").doesNotContain("\u001b").doesNotContain("\u009b").doesNotContain("\u202e").doesNotContain("\r")
        .doesNotContain("\u2066").doesNotContain("\u200b");
    Struct.Builder parsed = Struct.newBuilder();
    JsonFormat.parser().merge(safe, parsed);
    assertThat(parsed.build()).as("the same JSON value").isEqualTo(original);
  }
}
