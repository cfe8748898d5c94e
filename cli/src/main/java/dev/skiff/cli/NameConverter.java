package dev.skiff.cli;

import dev.skiff.platform.internal.Printable;
import java.util.function.Predicate;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Checks a name given on the command line by the platform's rule for its kind (a service name, a version,
 * an instance id) as it is parsed: empty (an unset shell variable) or malformed is a usage error (exit 2)
 * before any call, said the same way for every kind.
 */
abstract class NameConverter implements ITypeConverter<String> {
  private final String kind;
  private final Predicate<String> valid;
  private final String rule;

  /**
   * @param kind the kind with its article, for the messages: {@code "a service name"}
   * @param valid the platform's rule
   * @param rule what a valid one looks like, for the message
   */
  NameConverter(String kind, Predicate<String> valid, String rule) {
    this.kind = kind;
    this.valid = valid;
    this.rule = rule;
  }

  @Override
  public String convert(String value) {
    if (!valid.test(value)) {
      throw new TypeConversionException(value.isEmpty()
          ? kind + " is needed here, not an empty one (an unset variable?)"
          : "'" + Printable.of(value, 256) + "' is not " + kind + ": " + rule);
    }
    return value;
  }
}
