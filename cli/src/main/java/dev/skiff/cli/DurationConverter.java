package dev.skiff.cli;

import dev.skiff.platform.client.CallOptions;
import dev.skiff.platform.config.Durations;
import java.time.Duration;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Reads {@code --timeout} values the way the platform reads durations: 250ms, 2s, 1.5s, 5m, PT2S; at most
 * {@link CallOptions#MAX_TIMEOUT} (30 days, 720h), which the broker can hold a request for.
 */
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
    if (d.compareTo(CallOptions.MAX_TIMEOUT) > 0) {
      throw new TypeConversionException("must be at most 720h (30 days), not '" + value + "'");
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
