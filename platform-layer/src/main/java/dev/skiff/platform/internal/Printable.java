package dev.skiff.platform.internal;

/**
 * Untrusted text made safe to quote in an error message, a log line or a terminal: at most
 * {@value #MAX_CHARS} characters, control and format characters written as {@code \}{@code uXXXX}, so that a
 * hostile value can neither forge log lines nor drive a terminal. Not API.
 */
public final class Printable {
  /** The most characters kept; longer text is cut and ends with an ellipsis. */
  public static final int MAX_CHARS = 80;

  private Printable() {}

  /**
   * @param s untrusted text, or null
   * @return the text, escaped and cut ("null" for null)
   */
  public static String of(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder(Math.min(s.length(), MAX_CHARS) + 8);
    int n = Math.min(s.length(), MAX_CHARS);
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      int type = Character.getType(c);
      if (Character.isISOControl(c) || type == Character.FORMAT || type == Character.LINE_SEPARATOR
          || type == Character.PARAGRAPH_SEPARATOR || type == Character.SURROGATE) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    if (s.length() > MAX_CHARS) {
      b.append('…');
    }
    return b.toString();
  }
}
