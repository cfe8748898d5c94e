package dev.skiff.platform.config;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Reads Skiff's environment variables (SKIFF_*) as every part of the platform does: a blank value counts
 * as unset, so the default applies; a value that does not parse, or is out of range, fails naming the
 * variable and the value.
 */
public final class EnvVars {
  private EnvVars() {}

  /**
   * @param env the variables
   * @param key the variable
   * @return its value, trimmed; empty when unset or blank
   */
  public static Optional<String> nonBlank(Map<String, String> env, String key) {
    String v = env.get(key);
    return v == null || v.isBlank() ? Optional.empty() : Optional.of(v.trim());
  }

  /**
   * @param env the variables
   * @param key the variable
   * @param dflt the value when unset or blank
   * @return the variable's value, a whole number above zero
   * @throws IllegalArgumentException naming the variable when its value is not one
   */
  public static int positiveInt(Map<String, String> env, String key, int dflt) {
    Optional<String> v = nonBlank(env, key);
    if (v.isEmpty()) {
      return dflt;
    }
    try {
      int n = Integer.parseInt(v.get());
      if (n > 0) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(key + " must be a positive whole number, not '" + v.get() + "'");
  }

  /**
   * @param env the variables
   * @param key the variable
   * @param dflt the value when unset or blank
   * @return the variable's value, a whole number above zero (up to 2^63-1)
   * @throws IllegalArgumentException naming the variable when its value is not one
   */
  public static long positiveLong(Map<String, String> env, String key, long dflt) {
    Optional<String> v = nonBlank(env, key);
    if (v.isEmpty()) {
      return dflt;
    }
    try {
      long n = Long.parseLong(v.get());
      if (n > 0) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(key + " must be a positive whole number, not '" + v.get() + "'");
  }

  /**
   * @param env the variables
   * @param key the variable
   * @param dflt the value when unset or blank
   * @return the variable's value, a duration above zero as {@link Durations#parse} reads it
   * @throws IllegalArgumentException naming the variable when its value is not one
   */
  public static Duration positiveDuration(Map<String, String> env, String key, Duration dflt) {
    Optional<String> v = nonBlank(env, key);
    if (v.isEmpty()) {
      return dflt;
    }
    Duration d;
    try {
      d = Durations.parse(v.get());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(key + ": " + e.getMessage(), e);
    }
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(key + " must be a positive duration, not '" + v.get() + "'");
    }
    return d;
  }

  /**
   * @param env the variables
   * @param key the variable
   * @param dflt the value when unset or blank
   * @return true for {@code on}, {@code true} or {@code 1}; false for {@code off}, {@code false} or {@code 0}
   * @throws IllegalArgumentException naming the variable when its value is neither
   */
  public static boolean onOff(Map<String, String> env, String key, boolean dflt) {
    Optional<String> v = nonBlank(env, key);
    if (v.isEmpty()) {
      return dflt;
    }
    return switch (v.get().toLowerCase(java.util.Locale.ROOT)) {
      case "on", "true", "1" -> true;
      case "off", "false", "0" -> false;
      default -> throw new IllegalArgumentException(key + " must be 'on' or 'off', not '" + v.get() + "'");
    };
  }
}
