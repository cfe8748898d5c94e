package dev.skiff.kernel.config;

import com.google.protobuf.Struct;
import dev.skiff.platform.health.HealthCheck;
import dev.skiff.proto.v1.ConfigChange;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where the config service keeps the current document of every layer and the history of changes:
 * {@link MemoryConfigStore} (one process, lost at restart) or {@link CassandraConfigStore}. The history is
 * the source of truth: change {@code n} is written only if no change {@code n} exists yet (so two copies of
 * the service cannot both make version {@code n}), and the layers are what the changes made. Every
 * method may throw a {@link dev.skiff.platform.SkiffException} (UNAVAILABLE, TIMEOUT) when the store cannot
 * be reached. Implementations are thread-safe.
 */
interface ConfigStore extends AutoCloseable {
  /**
   * A layer's current document.
   *
   * @param key the layer's key ({@link LayerId#key()})
   * @param version the change that last changed it
   * @param doc its document
   * @param provenance for each leaf path, the change that last set it
   */
  record Layer(String key, long version, Struct doc, Map<String, Long> provenance) {
    /** Copies the provenance. */
    public Layer {
      provenance = Map.copyOf(provenance);
    }
  }

  /** Connects and creates the schema (blocks until done). */
  void start();

  /** @return every layer as last written */
  List<Layer> layers();

  /**
   * @param id a version
   * @return the change that made it
   */
  Optional<ConfigChange> change(long id);

  /**
   * @param before the newest version wanted plus one
   * @param limit the most to answer
   * @return changes older than {@code before}, newest first
   */
  List<ConfigChange> changesBefore(long before, int limit);

  /**
   * Records a change and the layers it made, unless its version exists.
   *
   * @param change the change (its id is the new version)
   * @param layers the layers it changed, as they are after it
   * @return false when a change with that id exists already (nothing written)
   */
  boolean append(ConfigChange change, List<Layer> layers);

  /**
   * Writes layers again (after a change was recorded whose layers were not all written).
   *
   * @param layers the layers
   */
  void repair(List<Layer> layers);

  /** @return a check of the store's health, where it has one */
  default Optional<HealthCheck> healthCheck() {
    return Optional.empty();
  }

  /** Closes the store. Idempotent. */
  @Override
  void close();
}
