package dev.skiff.cli;

import dev.skiff.platform.config.Durations;
import java.time.Duration;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Reads {@code --timeout} values the way the platform reads durations: 250ms, 2s, 1.5s, 5m, PT2S. */
final class DurationConverter implements ITypeConverter<Duration> {
  @Override
  public Duration convert(String value) {
    Duration d;
    try {
      d = Durations.parse(value);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(e.getMessage());
    }
    if (d.isNegative() || d.isZero()) {
      throw new TypeConversionException("must be a positive duration, not '" + value + "'");
    }
    return d;
  }

  /**
   * A duration the way people write it back: {@code 5s}, {@code 250ms}, {@code 1.5s}.
   *
   * @param d the duration
   * @return the text
   */
  static String format(Duration d) {
    long ms = d.toMillis();
    if (ms < 1000 || ms % 100 != 0) {
      return ms + "ms";
    }
    return ms % 1000 == 0 ? ms / 1000 + "s" : String.format(java.util.Locale.ROOT, "%.1fs", ms / 1000.0);
  }
}
