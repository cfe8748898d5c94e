package dev.skiff.cli;

import dev.skiff.platform.Names;
import dev.skiff.platform.internal.Printable;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Checks {@code --version} and {@code --instance} by the platform's rules ({@link Names#isVersion},
 * {@link Names#isInstance}) as they are parsed: a malformed one is a usage error (exit 2) before any call,
 * as a malformed service name is ({@link ServiceNameConverter}).
 */
final class TargetConverters {
  private TargetConverters() {}

  /** A version: {@code 1.2.0}. */
  static final class Version implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      if (!Names.isVersion(value)) {
        throw new TypeConversionException(value.isEmpty()
            ? "a version is needed here, not an empty one (an unset variable?)"
            : "'" + Printable.of(value, 256) + "' is not a version: use letters, digits, '.', '_', '+' and '-', starting with a"
                + " letter or digit (at most " + Names.MAX_VERSION + " characters), e.g. 1.2.0");
      }
      return value;
    }
  }

  /** An instance id, as {@code skiff services S} lists them. */
  static final class Instance implements ITypeConverter<String> {
    @Override
    public String convert(String value) {
      if (!Names.isInstance(value)) {
        throw new TypeConversionException(value.isEmpty()
            ? "an instance id is needed here, not an empty one (an unset variable?)"
            : "'" + Printable.of(value, 256) + "' is not an instance id: use letters, digits, '.', '_' and '-', starting with a"
                + " letter or digit (at most " + Names.MAX_INSTANCE + " characters), as 'skiff services SERVICE' lists them");
      }
      return value;
    }
  }
}
