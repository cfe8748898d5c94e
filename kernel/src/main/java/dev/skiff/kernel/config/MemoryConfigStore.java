package dev.skiff.kernel.config;

import dev.skiff.proto.v1.ConfigChange;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The config store in memory: for tests and development (lost when the process stops, not shared by
 * copies of the service). Holds at most {@code maxChanges} changes: the oldest are forgotten beyond it
 * (their versions can no longer be diffed or rolled back to). Thread-safe.
 */
final class MemoryConfigStore implements ConfigStore {
  private final int maxChanges;
  private final Map<String, Layer> layers = new TreeMap<>();
  private final NavigableMap<Long, ConfigChange> changes = new TreeMap<>();

  /** @param maxChanges the most changes kept */
  MemoryConfigStore(int maxChanges) {
    this.maxChanges = maxChanges;
  }

  @Override
  public void start() {}

  @Override
  public synchronized List<Layer> layers() {
    return List.copyOf(layers.values());
  }

  @Override
  public synchronized Optional<ConfigChange> change(long id) {
    return Optional.ofNullable(changes.get(id));
  }

  @Override
  public synchronized List<ConfigChange> changesBefore(long before, int limit) {
    List<ConfigChange> out = new ArrayList<>();
    for (ConfigChange c : changes.headMap(before, false).descendingMap().values()) {
      if (out.size() >= limit) {
        break;
      }
      out.add(c);
    }
    return out;
  }

  @Override
  public synchronized boolean append(ConfigChange change, List<Layer> changed) {
    if (changes.containsKey(change.getId())) {
      return false;
    }
    changes.put(change.getId(), change);
    while (changes.size() > maxChanges) {
      changes.pollFirstEntry();
    }
    repair(changed);
    return true;
  }

  @Override
  public synchronized void repair(List<Layer> changed) {
    for (Layer l : changed) {
      Layer old = layers.get(l.key());
      if (old == null || old.version() <= l.version()) {
        layers.put(l.key(), l);
      }
    }
  }

  @Override
  public void close() {}
}
