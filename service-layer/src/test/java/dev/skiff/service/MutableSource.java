package dev.skiff.service;

import dev.skiff.platform.config.ConfigSource;
import java.util.Map;
import java.util.TreeMap;

/** A config source that tests change by hand, as an operator would change a file or ZooKeeper. */
public final class MutableSource implements ConfigSource {
  private final Map<String, String> values = new TreeMap<>();
  private volatile Runnable changed = () -> {};

  /** @param initial the values to start with */
  public MutableSource(Map<String, String> initial) {
    values.putAll(initial);
  }

  @Override
  public String name() {
    return "test source";
  }

  @Override
  public synchronized Map<String, String> read() {
    return Map.copyOf(values);
  }

  @Override
  public void watch(Runnable changed) {
    this.changed = changed;
  }

  /** Sets a value and tells the configuration, which reloads on this thread. */
  public void set(String path, String value) {
    synchronized (this) {
      values.put(path, value);
    }
    changed.run();
  }

  /** Replaces every value and tells the configuration, which reloads on this thread. */
  public void setAll(Map<String, String> all) {
    synchronized (this) {
      values.clear();
      values.putAll(all);
    }
    changed.run();
  }
}
