package dev.skiff.cli;

import dev.skiff.platform.Names;

/**
 * Checks a service name given on the command line by the platform's one rule ({@link Names#isService}),
 * so that every command refuses an empty or malformed name alike, as a usage error (exit 2), before any
 * call: an empty one (an unset shell variable) would otherwise read as "every service" to the kernel.
 */
final class ServiceNameConverter extends NameConverter {
  ServiceNameConverter() {
    super("a service name", Names::isService, "use dot-separated lower-case parts of letters, digits, '_' and '-' (at most "
        + Names.MAX_SERVICE + " characters), e.g. com.example.greeter");
  }
}
