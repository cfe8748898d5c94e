package dev.skiff.cli;

import dev.skiff.platform.Names;
import dev.skiff.platform.internal.Printable;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Checks a service name given on the command line by the platform's one rule ({@link Names#isService}),
 * so that every command refuses an empty or malformed name alike, as a usage error (exit 2), before any
 * call: an empty one (an unset shell variable) would otherwise read as "every service" to the kernel.
 */
final class ServiceNameConverter implements ITypeConverter<String> {
  @Override
  public String convert(String value) {
    if (!Names.isService(value)) {
      throw new TypeConversionException(value.isEmpty()
          ? "a service name is needed here, not an empty one (an unset variable?)"
          : "'" + Printable.of(value, 256) + "' is not a service name: use dot-separated lower-case parts of letters, digits, "
              + "'_' and '-' (at most " + Names.MAX_SERVICE + " characters), e.g. com.example.greeter");
    }
    return value;
  }
}
