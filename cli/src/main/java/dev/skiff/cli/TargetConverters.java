package dev.skiff.cli;

import dev.skiff.platform.Names;

/**
 * Checks {@code --version} and {@code --instance} by the platform's rules ({@link Names#isVersion},
 * {@link Names#isInstance}) as they are parsed: a malformed one is a usage error (exit 2) before any call,
 * as a malformed service name is ({@link ServiceNameConverter}).
 */
final class TargetConverters {
  private TargetConverters() {}

  /** A version: {@code 1.2.0}. */
  static final class Version extends NameConverter {
    Version() {
      super("a version", Names::isVersion, "use letters, digits, '.', '_', '+' and '-', starting with a letter or digit (at most "
          + Names.MAX_VERSION + " characters), e.g. 1.2.0");
    }
  }

  /** An instance id, as {@code skiff services S} lists them. */
  static final class Instance extends NameConverter {
    Instance() {
      super("an instance id", Names::isInstance, "use letters, digits, '.', '_' and '-', starting with a letter or digit (at most "
          + Names.MAX_INSTANCE + " characters), as 'skiff services SERVICE' lists them");
    }
  }
}
