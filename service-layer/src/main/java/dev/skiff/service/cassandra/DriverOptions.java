package dev.skiff.service.cassandra;

import com.datastax.oss.driver.api.core.config.DriverConfigLoader;
import com.datastax.oss.driver.api.core.config.DriverExecutionProfile;
import com.datastax.oss.driver.api.core.config.DriverOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Checks the Java driver options given as {@code cassandra.driver.*} against the types of the driver's own
 * options (its {@code reference.conf}): a number, a true/false, a duration or a list where the driver
 * expects one. The driver reads a value of the wrong type only once a session starts, in a task of its own
 * whose failure leaves the session's start waiting forever; checked here, a wrong value is refused with the
 * settings, naming its key, and the client stays as it was. An option the driver has no default for is
 * passed on unchecked (some are documented without one).
 */
final class DriverOptions {
  /** The driver's defaults (a loader of nothing but its reference.conf: it holds no thread). */
  private static final DriverExecutionProfile DEFAULTS = DriverConfigLoader.programmaticBuilder().build().getInitialConfig()
      .getDefaultProfile();
  /** The driver's defaults, by option path. */
  private static final Map<String, Object> REFERENCE = reference();

  private DriverOptions() {}

  private static Map<String, Object> reference() {
    Map<String, Object> m = new HashMap<>();
    DEFAULTS.entrySet().forEach(e -> m.put(e.getKey(), e.getValue()));
    return Map.copyOf(m);
  }

  /**
   * A driver option of the wrong type.
   *
   * @param path its path
   * @param must what its value must be
   */
  record Wrong(String path, String must) {}

  /**
   * @param options driver options by path, values as given
   * @return the first one of the wrong type, by path; empty when all can be used
   */
  static Optional<Wrong> firstWrong(Map<String, String> options) {
    if (options.isEmpty()) {
      return Optional.empty();
    }
    var builder = DriverConfigLoader.programmaticBuilder();
    options.forEach((path, value) -> builder.withString(option(path), value));
    try (DriverConfigLoader loader = builder.build()) {
      DriverExecutionProfile given = loader.getInitialConfig().getDefaultProfile();
      for (String path : new java.util.TreeSet<>(options.keySet())) {
        Object reference = REFERENCE.get(path);
        if (reference == null) {
          continue;
        }
        DriverOption o = option(path);
        String must = "";
        try {
          if (reference instanceof Boolean) {
            must = "true or false";
            given.getBoolean(o);
          } else if (reference instanceof Number) {
            must = "a number";
            given.getLong(o);
          } else if (reference instanceof List) {
            must = "a list";
            given.getStringList(o);
          } else if (isDuration(o)) {
            must = "a duration such as '5 seconds' or '500 milliseconds'";
            given.getDuration(o);
          } else {
            continue;
          }
        } catch (RuntimeException e) {
          return Optional.of(new Wrong(path, must + ", as the driver's option is (its default: " + reference + ")"));
        }
      }
    }
    return Optional.empty();
  }

  private static boolean isDuration(DriverOption o) {
    try {
      DEFAULTS.getDuration(o);
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  private static DriverOption option(String path) {
    return () -> path;
  }
}
