package dev.skiff.kernel.config;

import com.datastax.oss.driver.api.core.cql.Row;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.kernel.KernelKeyspace;
import dev.skiff.proto.v1.ConfigChange;
import dev.skiff.service.cassandra.Query;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The config store in Cassandra, through the service layer's {@link CassandraClient}: layers and history
 * survive restarts of the service and of Cassandra, and are shared by every copy of the service.
 *
 * <p><b>Schema</b> (keyspace {@code SKIFF_CONFIG_KEYSPACE}, default {@code skiff_config}, created by the
 * migration {@code dev/skiff/kernel/config/cassandra/V1__config_tables.cql}): {@code changes} (by thousands
 * of versions, newest first; each inserted with a lightweight transaction, {@code IF NOT EXISTS}) and
 * {@code layers} (one row per layer, written {@code USING TIMESTAMP} its version so that the newest
 * version wins whatever order writes arrive in). A change recorded whose layers were not written (the
 * service stopped between) is found and repaired by the next load ({@link ConfigService}). Thread-safe.
 */
final class CassandraConfigStore extends KernelKeyspace implements ConfigStore {
  static final String SCHEMA = "dev/skiff/kernel/config/cassandra";
  private static final long BUCKET = 1000;
  private static final int MAX_LAYERS_READ = 100_000;

  private static final Query LAYERS = Query.of("config-layers", "SELECT layer, version, doc, provenance FROM layers LIMIT ?").idempotent();
  private static final Query CHANGE = Query.of("config-change", "SELECT change FROM changes WHERE bucket = ? AND id = ?").idempotent();
  private static final Query CHANGES_BEFORE =
      Query.of("config-changes", "SELECT change FROM changes WHERE bucket = ? AND id < ? LIMIT ?").idempotent();
  private static final Query APPEND = Query.of("config-append", "INSERT INTO changes (bucket, id, change) VALUES (?, ?, ?) IF NOT EXISTS");
  private static final Query PUT_LAYER = Query.of("config-put-layer",
      "INSERT INTO layers (layer, version, doc, provenance) VALUES (?, ?, ?, ?) USING TIMESTAMP ?").idempotent();

  /**
   * Builds the client; connects in {@link #start()}.
   *
   * @param config the configuration ({@code cassandra.*})
   * @param keyspace the keyspace
   * @throws IllegalArgumentException when the keyspace name is invalid
   */
  CassandraConfigStore(Config config, String keyspace) {
    super(config, "config-store", checked(keyspace), SCHEMA, "the config store");
  }

  private static String checked(String keyspace) {
    if (!isValidName(keyspace)) {
      throw new IllegalArgumentException("SKIFF_CONFIG_KEYSPACE must be 1 to 48 letters, digits or '_'");
    }
    return keyspace;
  }

  @Override
  public List<Layer> layers() {
    List<Layer> out = new ArrayList<>();
    for (Row r : session().execute(LAYERS, MAX_LAYERS_READ)) {
      Map<String, Long> provenance = new HashMap<>();
      Documents.parseStored(r.getString(3)).getFieldsMap().forEach((k, v) -> provenance.put(k, (long) v.getNumberValue()));
      out.add(new Layer(r.getString(0), r.getLong(1), Documents.parseStored(r.getString(2)), provenance));
    }
    return out;
  }

  @Override
  public Optional<ConfigChange> change(long id) {
    return session().one(CHANGE, id / BUCKET, id).map(CassandraConfigStore::change);
  }

  private static ConfigChange change(Row r) {
    try {
      return ConfigChange.parseFrom(r.getByteBuffer(0));
    } catch (InvalidProtocolBufferException e) {
      throw new SkiffException(ErrorCode.INTERNAL, "a stored configuration change cannot be read", e);
    }
  }

  @Override
  public List<ConfigChange> changesBefore(long before, int limit) {
    List<ConfigChange> out = new ArrayList<>();
    for (long bucket = (before - 1) / BUCKET; bucket >= 0 && out.size() < limit && before > 0; bucket--) {
      for (Row r : session().execute(CHANGES_BEFORE, bucket, before, limit - out.size())) {
        out.add(change(r));
      }
      if (out.isEmpty() && bucket < (before - 1) / BUCKET) {
        break; // a whole bucket empty below the first: nothing older is kept
      }
    }
    return out;
  }

  @Override
  public boolean append(ConfigChange change, List<Layer> layers) {
    boolean applied = session().execute(APPEND, change.getId() / BUCKET, change.getId(), ByteBuffer.wrap(change.toByteArray())).wasApplied();
    if (applied) {
      repair(layers);
    }
    return applied;
  }

  @Override
  public void repair(List<Layer> layers) {
    for (Layer l : layers) {
      Struct.Builder p = Struct.newBuilder();
      l.provenance().forEach((k, v) -> p.putFields(k, Value.newBuilder().setNumberValue(v).build()));
      session().execute(PUT_LAYER, l.key(), l.version(), Documents.print(l.doc()), Documents.print(p.build()), l.version());
    }
  }
}
