package dev.skiff.platform.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import org.junit.jupiter.api.Test;

class ParserMessagesTest {
  private static Throwable parsing(String json) {
    try {
      JsonFormat.parser().merge(json, Struct.newBuilder());
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      return e;
    }
    throw new AssertionError("parsed: " + json);
  }

  @Test
  void aBodyCutShortSaysWhereWithoutTheParsersClassNames() {
    Throwable e = parsing("{\"name\":");
    assertThat(e.getMessage()).as("what the parser says").contains("java.io.EOFException: ");
    assertThat(ParserMessages.of(e)).isEqualTo("End of input at line 1 column 9 path $.name");
  }

  @Test
  void nestedNamesGoAndTheWordsStay() {
    assertThat(ParserMessages.of(new IllegalStateException(
        "com.google.gson.stream.MalformedJsonException: java.lang.IllegalArgumentException: Unterminated object at line 1")))
        .isEqualTo("Unterminated object at line 1");
    assertThat(ParserMessages.of(new IllegalStateException("Expect message object but got: [1]"))).isEqualTo("Expect message object but got: [1]");
    assertThat(ParserMessages.of(new IllegalStateException("value a.b: not a number"))).isEqualTo("value a.b: not a number");
    assertThat(ParserMessages.of(new IllegalStateException())).isEqualTo("no message");
  }
}
