package dev.skiff.kernel.config;

import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.internal.Printable;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A dotted path into a configuration tree ({@code greeter.greeting}), checked as hostile input: at most
 * {@value #MAX_CHARS} characters and {@value #MAX_DEPTH} segments, each of letters, digits, {@code _} and
 * {@code -}. The empty path is the whole tree. Immutable.
 *
 * @param segments the segments, outermost first
 */
record ConfigPath(List<String> segments) {
  /** The longest path text. */
  static final int MAX_CHARS = 256;
  /** The most segments, and the deepest a tree may nest. */
  static final int MAX_DEPTH = 16;
  private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9_-]{1,64}");

  /** The whole tree. */
  static final ConfigPath ROOT = new ConfigPath(List.of());

  /** Copies the segments. */
  ConfigPath {
    segments = List.copyOf(segments);
  }

  /**
   * @param text a dotted path, or empty for the whole tree
   * @return the path
   * @throws SkiffException BAD_REQUEST saying what is wrong with it
   */
  static ConfigPath parse(String text) {
    if (text.isEmpty()) {
      return ROOT;
    }
    if (text.length() > MAX_CHARS) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a path has at most " + MAX_CHARS + " characters");
    }
    String[] parts = text.split("\\.", -1);
    if (parts.length > MAX_DEPTH) {
      throw new SkiffException(ErrorCode.BAD_REQUEST, "a path has at most " + MAX_DEPTH + " segments");
    }
    for (String p : parts) {
      if (!SEGMENT.matcher(p).matches()) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, "invalid path '" + Printable.of(text)
            + "': dot-separated segments of 1 to 64 letters, digits, '_' or '-'");
      }
    }
    return new ConfigPath(List.of(parts));
  }

  /** @return whether this is the whole tree */
  boolean isRoot() {
    return segments.isEmpty();
  }

  /**
   * @param segment a checked segment
   * @return this path with one more segment
   */
  ConfigPath child(String segment) {
    List<String> s = new java.util.ArrayList<>(segments);
    s.add(segment);
    return new ConfigPath(s);
  }

  @Override
  public String toString() {
    return String.join(".", segments);
  }
}
