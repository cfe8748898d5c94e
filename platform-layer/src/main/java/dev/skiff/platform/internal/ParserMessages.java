package dev.skiff.platform.internal;

import java.util.regex.Pattern;

/**
 * A parser's message as a caller may read it: without the names of the Java exceptions it wraps. Gson,
 * under protobuf's JSON parser, reports a body cut short as {@code java.io.EOFException: End of input at
 * line 1 column 9 path $.name}; the caller is told {@code End of input at line 1 column 9 path $.name}
 * (where, in their own terms; the class names say only what the service runs on). Not API.
 */
public final class ParserMessages {
  /** A Java exception's name, as a wrapping exception's message carries it before its own words. */
  private static final Pattern EXCEPTION_NAME = Pattern.compile("(?:[a-z_$][\\w$]*\\.)+[A-Z][\\w$]*(?:Exception|Error): ");

  private ParserMessages() {}

  /**
   * @param e what the parser threw
   * @return its message without exception class names ({@code "no message"} when it has none)
   */
  public static String of(Throwable e) {
    String m = e.getMessage();
    return m == null ? "no message" : EXCEPTION_NAME.matcher(m).replaceAll("");
  }
}
