package dev.skiff.kernel.trace;

import dev.skiff.platform.config.Config;
import dev.skiff.service.TestStores;
import dev.skiff.service.cassandra.CassandraClient;
import java.util.Map;
import java.util.UUID;

/**
 * The Cassandra the trace store tests use: the shared node scripts/test.sh starts (SKIFF_CASSANDRA_HOSTS;
 * a test that needs it fails when it is unset, as the service layer's do). Nodes of a test's own, for
 * tests that stop them, are the service layer's {@link dev.skiff.service.cassandra.CassandraProcess}.
 */
final class CassandraNodes {
  private CassandraNodes() {}

  /** @return host:port of the shared Cassandra (the test fails, saying what to run, when it is unset) */
  static String sharedHosts() {
    return TestStores.cassandraHosts();
  }

  /** @return a keyspace name of its own for a test */
  static String newKeyspace() {
    return "skiff_trace_t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  /**
   * @param hosts the contact points
   * @param keyspace the keyspace
   * @param more further settings
   * @return the configuration of a store there: consistency ONE, schema changes seen at once
   */
  static Config config(String hosts, String keyspace, Map<String, String> more) {
    Map<String, String> m = TestStores.cassandraSettings(hosts);
    m.put("trace.keyspace", keyspace);
    m.putAll(more);
    return Config.of(m);
  }

  /** @return a client of the shared node, for a test's own queries (TTLs) and clean-up */
  static CassandraClient client(String hosts) {
    return CassandraClient.builder().name("test").config(config(hosts, "x", Map.of())).build().start();
  }

  static void drop(String hosts, String keyspace) {
    try (CassandraClient c = client(hosts)) {
      TestStores.dropKeyspace(c, keyspace);
    }
  }
}
