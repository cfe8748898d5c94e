package dev.skiff.platform.internal;

import java.util.Locale;

/**
 * JSON string literals, for Skiff's few places that write JSON by hand (Zipkin spans, the CLI's summaries,
 * the monitoring pages). Not API.
 */
public final class JsonStrings {
  private JsonStrings() {}

  /**
   * @param s a string
   * @return it as a JSON string literal
   */
  public static String quote(String s) {
    return quote(new StringBuilder(s.length() + 2), s).toString();
  }

  /**
   * Appends a string as a JSON string literal: quotes, backslashes and control characters escaped, and
   * U+2028 and U+2029 too (JavaScript before ES2019 read them as line ends).
   *
   * @param sb where to append
   * @param s the string
   * @return {@code sb}
   */
  public static StringBuilder quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        default -> {
          if (c < 0x20 || c == '\u2028' || c == '\u2029') {
            sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"');
  }
}
