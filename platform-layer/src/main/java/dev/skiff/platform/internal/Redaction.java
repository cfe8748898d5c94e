package dev.skiff.platform.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Passwords taken out of URIs before they are printed, logged or thrown: {@code amqp://user:***@host/vh}.
 * Not API.
 *
 * <p>A URI is split by its structure, never by guessing what a password looks like: its user-info is
 * everything between {@code scheme://} and the <em>last</em> {@code @} (RFC 3986's authority is
 * {@code userinfo@host}, and a host has no {@code @}). So a password that itself holds {@code @}, {@code /},
 * {@code :}, {@code #}, {@code ?} or a space, encoded or not, and whether or not the URI parses, is hidden
 * whole; at worst (an {@code @} in a path) more is hidden than needed, never less. The user name before the
 * first {@code :} is kept; user-info without a {@code :} (a user alone, or a token) is hidden whole.
 *
 * <p>In a longer text (an exception's message, a stack trace), every URI is found by its scheme token
 * ({@code amqp://}, {@code https://}, ...) and ends at the next line break or the next scheme token; each is
 * redacted as above, except that the {@code @} that ends its user-info is the last one a host can follow
 * (so that "write @ as %40" further on the line is not taken for it). Thread-safe; no state.
 */
public final class Redaction {
  /** What replaces a password. */
  public static final String MASK = "***";

  /** Where a URI starts in a text: a scheme (RFC 3986: a letter, then letters, digits, + - .) and "://". */
  private static final Pattern SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*://");

  private Redaction() {}

  /**
   * A value or a text with every password hidden: {@link #uri} for one word (no white space in it) holding
   * at most one URI, {@link #text} otherwise (a text, or a list of URIs such as a cluster's
   * {@code amqp://u:p@h1,amqp://u:p@h2}, each of whose hosts stays readable).
   *
   * @param s a URI, a value or a message; null gives "null"
   * @return the same with every password hidden
   */
  public static String of(String s) {
    if (s == null) {
      return "null";
    }
    for (int i = 0; i < s.length(); i++) {
      if (Character.isWhitespace(s.charAt(i))) {
        return text(s);
      }
    }
    int first = s.indexOf("://");
    return first >= 0 && s.indexOf("://", first + 3) >= 0 ? text(s) : uri(s);
  }

  /**
   * One URI with its password hidden; for a value that is meant to be a URI as a whole.
   *
   * @param uri a URI, perhaps malformed; null gives "null"
   * @return the URI with everything its user-info holds after the user name replaced by {@value #MASK};
   *     without {@code ://}, everything before its last {@code @}
   */
  public static String uri(String uri) {
    if (uri == null) {
      return "null";
    }
    int slashes = uri.indexOf("://");
    int at = uri.lastIndexOf('@');
    if (at < 0) {
      return uri;
    }
    if (slashes < 0 || slashes > at) {
      return MASK + uri.substring(at);
    }
    int start = slashes + 3;
    return uri.substring(0, start) + userInfo(uri.substring(start, at)) + uri.substring(at);
  }

  /**
   * A text with the password of every URI in it hidden ({@link #uri} on each).
   *
   * @param text a message, perhaps with URIs in it; null gives "null"
   * @return the text, every URI's user-info after its user name replaced by {@value #MASK}
   */
  public static String text(String text) {
    if (text == null) {
      return "null";
    }
    if (!text.contains("://")) {
      return text;
    }
    List<int[]> starts = new ArrayList<>();
    Matcher m = SCHEME.matcher(text);
    while (m.find()) {
      starts.add(new int[] {m.start(), m.end()});
    }
    StringBuilder b = new StringBuilder(text.length());
    int copied = 0;
    for (int i = 0; i < starts.size(); i++) {
      int from = starts.get(i)[1];
      int end = i + 1 < starts.size() ? starts.get(i + 1)[0] : text.length();
      end = Math.min(end, lineEnd(text, from));
      int at = hostAt(text, from, end);
      if (at < from) {
        continue; // no user-info
      }
      b.append(text, copied, from).append(userInfo(text.substring(from, at)));
      copied = at;
    }
    return b.append(text, copied, text.length()).toString();
  }

  /**
   * @return the '@' that ends a URI's user-info in text[from, end): the last one a host follows (a letter,
   *     digit, '[', '%', '-', '.', '_' or '~', not a space as in "write @ as %40"); failing that the last
   *     '@' of all; -1 if none
   */
  private static int hostAt(String text, int from, int end) {
    int last = -1;
    for (int i = end - 1; i >= from; i--) {
      if (text.charAt(i) == '@') {
        if (last < 0) {
          last = i;
        }
        char next = i + 1 < end ? text.charAt(i + 1) : ' ';
        if (Character.isLetterOrDigit(next) || "[%-._~".indexOf(next) >= 0) {
          return i;
        }
      }
    }
    return last;
  }

  private static int lineEnd(String text, int from) {
    for (int i = from; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\n' || c == '\r') {
        return i;
      }
    }
    return text.length();
  }

  /** @return the user name and the mask, or only the mask when there is no user name before a ':' */
  private static String userInfo(String userInfo) {
    int colon = userInfo.indexOf(':');
    return colon < 0 ? MASK : userInfo.substring(0, colon + 1) + MASK;
  }
}
