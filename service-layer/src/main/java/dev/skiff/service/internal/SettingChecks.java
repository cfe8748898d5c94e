package dev.skiff.service.internal;

import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import java.time.Duration;

/**
 * Bounds the store clients' settings share, checked when the settings are read, so that a value is either
 * refused naming its key, value, source and limit, or honoured as written.
 */
public final class SettingChecks {
  /**
   * The longest timeout or wait a store client takes: a day. ZooKeeper, Curator and sockets take them as
   * whole milliseconds in an {@code int} (at most about 24.8 days: a longer one overflowed into a
   * negative or a tiny timeout); a timeout longer than a day is a mistake anyway.
   */
  public static final Duration MAX_TIMEOUT = Duration.ofHours(24);

  private SettingChecks() {}

  /**
   * A timeout: positive, at most {@link #MAX_TIMEOUT}.
   *
   * @param c the client's subtree
   * @param key the key, relative to it
   * @param dflt the default
   * @return the value or the default
   * @throws ConfigException naming the key, its value and source, and the limit
   */
  public static Duration timeout(Config c, String key, Duration dflt) {
    Duration d = wait(c, key, dflt);
    if (d.isZero()) {
      throw c.invalid(key, "must be positive");
    }
    return d;
  }

  /**
   * A wait that may be zero (e.g. {@code required-at-start}): at most {@link #MAX_TIMEOUT}.
   *
   * @param c the client's subtree
   * @param key the key, relative to it
   * @param dflt the default
   * @return the value or the default
   * @throws ConfigException naming the key, its value and source, and the limit
   */
  public static Duration wait(Config c, String key, Duration dflt) {
    Duration d = c.getDuration(key, dflt);
    if (d.compareTo(MAX_TIMEOUT) > 0) {
      throw c.invalid(key, "must be at most 24h");
    }
    return d;
  }
}
