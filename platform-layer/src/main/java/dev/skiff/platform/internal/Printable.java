package dev.skiff.platform.internal;

/**
 * Untrusted text made safe to quote in an error message, a log line or a terminal: control characters
 * (C0, DEL, C1: so ESC and CSI sequences, BEL, {@code \r}, backspace), format characters (the bidi
 * overrides and isolates U+202A–U+202E and U+2066–U+2069, zero-width characters, tag characters), line and
 * paragraph separators, lone surrogates and unassigned code points are written as {@code \}{@code uXXXX}, so
 * that a hostile value can neither forge log lines nor drive or reorder a terminal. Everything else
 * (accented letters, CJK, emoji) is kept. Not API.
 */
public final class Printable {
  /** The most characters {@link #of(String)} keeps; longer text is cut and ends with an ellipsis. */
  public static final int MAX_CHARS = 80;

  /** The most characters {@link #text} keeps: a message a person reads, not a flood. */
  public static final int MAX_TEXT_CHARS = 4096;

  private Printable() {}

  /**
   * @param s untrusted text, or null
   * @return the text, escaped and cut at {@value #MAX_CHARS} characters ("null" for null)
   */
  public static String of(String s) {
    return of(s, MAX_CHARS);
  }

  /**
   * Untrusted text for a terminal: a name, a description, a message or an error from another process.
   *
   * @param s untrusted text, or null
   * @return the text, escaped and cut at {@value #MAX_TEXT_CHARS} characters ("null" for null)
   */
  public static String text(String s) {
    return of(s, MAX_TEXT_CHARS);
  }

  /**
   * @param s untrusted text, or null
   * @param maxChars the most characters of {@code s} kept (a surrogate pair is never split)
   * @return the text, escaped and cut ("null" for null)
   */
  public static String of(String s, int maxChars) {
    if (s == null) {
      return "null";
    }
    int n = Math.min(s.length(), maxChars);
    if (n < s.length() && n > 0 && Character.isHighSurrogate(s.charAt(n - 1)) && Character.isLowSurrogate(s.charAt(n))) {
      n--;
    }
    String kept = escaped(s, n, false);
    return n < s.length() ? kept + '…' : kept;
  }

  /**
   * Untrusted text for a page: as {@link #of(String)}, but line feeds and tabs are kept (a page's text may
   * span lines) and nothing is cut. The result still needs HTML escaping.
   *
   * @param s untrusted text, or null
   * @return the text with no control or format character but line feeds and tabs ("null" for null)
   */
  public static String keepingLines(String s) {
    return s == null ? "null" : escaped(s, s.length(), true);
  }

  /**
   * @param s text
   * @param n how many of its characters to keep
   * @param keepLines whether line feeds and tabs are kept as they are
   * @return its first {@code n} characters with every unsafe one escaped ({@code s} itself when all are kept)
   */
  private static String escaped(String s, int n, boolean keepLines) {
    StringBuilder b = null;
    for (int i = 0; i < n; ) {
      int cp = s.codePointAt(i);
      int len = Character.charCount(cp);
      if (i + len > n) {
        len = 1;
        cp = s.charAt(i);
      }
      boolean bad = unsafe(cp) && !(keepLines && (cp == '\n' || cp == '\t'));
      if (bad && b == null) {
        b = new StringBuilder(n + 16).append(s, 0, i);
      }
      if (bad) {
        escape(b, s, i, len);
      } else if (b != null) {
        b.append(s, i, i + len);
      }
      i += len;
    }
    return b != null ? b.toString() : n == s.length() ? s : s.substring(0, n);
  }

  /**
   * JSON text made safe for a terminal: inside its strings, every character {@link #of(String)} would
   * escape is written as a JSON {@code \}{@code uXXXX} escape, so the JSON means exactly what it meant;
   * between values, line feeds, spaces and tabs are kept (the layout), anything else unsafe (a carriage
   * return too) is escaped the same way. Not cut.
   *
   * @param json JSON text from an untrusted source (or any text), or null
   * @return the text with no raw control or format character left ("null" for null)
   */
  public static String json(String json) {
    if (json == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder(json.length() + 16);
    boolean inString = false;
    boolean escaped = false;
    for (int i = 0; i < json.length(); ) {
      int cp = json.codePointAt(i);
      int len = Character.charCount(cp);
      boolean layout = !inString && (cp == '\n' || cp == '\t');
      if (unsafe(cp) && !layout) {
        escape(b, json, i, len);
        escaped = false;
      } else {
        b.append(json, i, i + len);
        if (inString && escaped) {
          escaped = false;
        } else if (inString && cp == '\\') {
          escaped = true;
        } else if (cp == '"') {
          inString = !inString;
        }
      }
      i += len;
    }
    return b.toString();
  }

  /** @return whether a code point may not reach a terminal or a log line as it is */
  private static boolean unsafe(int cp) {
    if (cp >= 0x20 && cp < 0x7f) {
      return false;
    }
    int type = Character.getType(cp);
    return Character.isISOControl(cp) || type == Character.FORMAT || type == Character.LINE_SEPARATOR
        || type == Character.PARAGRAPH_SEPARATOR || type == Character.SURROGATE || type == Character.UNASSIGNED;
  }

  private static void escape(StringBuilder b, String s, int from, int len) {
    for (int j = from; j < from + len; j++) {
      b.append("\\u").append(String.format("%04x", (int) s.charAt(j)));
    }
  }
}
