package dev.skiff.platform.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads durations as people write them: {@code 250ms}, {@code 2s}, {@code 1.5s}, {@code 5m}, {@code 1h}. */
public final class Durations {
  private static final Pattern FORM = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h)");

  /**
   * The longest duration taken: a year. Longer ones are mistakes (and beyond about 292 years a duration no
   * longer fits the nanoseconds or milliseconds the JDK's timers take).
   */
  public static final Duration MAX = Duration.ofDays(365);

  private Durations() {}

  /**
   * Parses a duration.
   *
   * @param text e.g. {@code 2s}; ISO-8601 ({@code PT2S}) is accepted too
   * @return the duration
   * @throws IllegalArgumentException naming the text and the accepted forms
   */
  public static Duration parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("a duration is required, e.g. 2s or 500ms");
    }
    String t = text.trim().toLowerCase(java.util.Locale.ROOT);
    Matcher m = FORM.matcher(t);
    if (m.matches()) {
      double n = Double.parseDouble(m.group(1));
      double millis =
          switch (m.group(2)) {
            case "ms" -> n;
            case "s" -> n * 1_000;
            case "m" -> n * 60_000;
            default -> n * 3_600_000;
          };
      if (millis > MAX.toMillis()) {
        throw tooLong(text);
      }
      return Duration.ofNanos(Math.round(millis * 1_000_000));
    }
    Duration d;
    try {
      d = Duration.parse(text.trim());
    } catch (java.time.format.DateTimeParseException | ArithmeticException e) {
      throw new IllegalArgumentException(
          "not a duration: '" + text + "' (write e.g. 250ms, 2s, 1.5s, 5m, 1h)", e);
    }
    if (d.compareTo(MAX) > 0) {
      throw tooLong(text);
    }
    return d;
  }

  /**
   * A duration as people write it, for messages: {@code 700 ms}, {@code 3 s}, {@code 1.5 s}.
   *
   * @param d a duration
   * @return it in milliseconds below a second, else in seconds (to a tenth when not whole)
   */
  public static String text(Duration d) {
    long ms = d.toMillis();
    if (ms < 1000) {
      return ms + " ms";
    }
    return ms % 1000 == 0 ? ms / 1000 + " s" : String.format(java.util.Locale.ROOT, "%.1f s", ms / 1000.0);
  }

  private static IllegalArgumentException tooLong(String text) {
    return new IllegalArgumentException("too long a duration: '" + text + "' (at most a year, 8760h)");
  }
}
