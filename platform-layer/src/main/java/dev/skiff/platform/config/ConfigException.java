package dev.skiff.platform.config;

import java.util.Objects;

/**
 * A configuration value that is missing, malformed or invalid, or a configuration source that cannot be
 * read. The message names the key ({@link #path()}), where its value came from, and what is expected,
 * e.g. {@code cassandra.port = 'abc' (from env SKIFF_CASSANDRA_PORT): must be a whole number}.
 *
 * <p>It extends {@link IllegalArgumentException}, as {@link Settings} has always thrown, so existing
 * callers catch it unchanged.
 */
public final class ConfigException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String path;

  /**
   * An error about one key.
   *
   * @param path the key's path, e.g. {@code cassandra.hosts}; "" when the error is about a whole source
   * @param message the full message, naming the key
   */
  public ConfigException(String path, String message) {
    super(message);
    this.path = Objects.requireNonNull(path, "path");
  }

  /**
   * An error about one key, with its cause.
   *
   * @param path the key's path; "" when the error is about a whole source
   * @param message the full message, naming the key
   * @param cause what went wrong underneath
   */
  public ConfigException(String path, String message, Throwable cause) {
    super(message, cause);
    this.path = Objects.requireNonNull(path, "path");
  }

  /** @return the path of the key the error is about, or "" when it is about a whole source */
  public String path() {
    return path;
  }
}
