package dev.skiff.platform.config;

import java.util.Map;

/**
 * A layer of configuration that {@link LayeredConfig} reads: a file, ZooKeeper, a map. A source gives
 * flat values by dotted path ({@code cassandra.hosts -> "10.0.0.1:9042,10.0.0.2:9042"}); lists are
 * comma-separated strings.
 *
 * <p>A source that can change tells so through {@link #watch(Runnable)}: the layered config then reads
 * every layer again, validates the result, and notifies its listeners. Implementations must be
 * thread-safe: {@link #read()} may be called from any thread.
 */
public interface ConfigSource extends AutoCloseable {
  /**
   * A short description for messages, e.g. {@code file /etc/skiff/bookings.conf}.
   *
   * @return the description
   */
  String name();

  /**
   * The source's values now.
   *
   * @return flat values by dotted path (never null)
   * @throws ConfigException when the source cannot be read or parsed, naming it
   */
  Map<String, String> read();

  /**
   * Starts telling about changes: from now on, {@code changed} runs (on a thread of the source) each
   * time {@link #read()} may give other values. Called at most once; a source that never changes
   * ignores it.
   *
   * @param changed what to run on a change; it never throws
   */
  default void watch(Runnable changed) {}

  /** Stops watching and releases what the source holds. Idempotent. */
  @Override
  default void close() {}
}
