package dev.skiff.service;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.config.Config;
import dev.skiff.service.zookeeper.ZooKeeperClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Assertions;

/**
 * Where the shared test services are: scripts/test.sh starts them and exports {@code SKIFF_*_HOSTS}.
 * Where a variable is not set the test fails (never skips) with a message saying what to run: a test
 * that needs a store proves nothing without it.
 */
public final class TestStores {
  private TestStores() {}

  /** @return host:port list of the shared memcached */
  public static String memcachedHosts() {
    return required("SKIFF_MEMCACHED_HOSTS");
  }

  /** @return host:port list of the shared ZooKeeper */
  public static String zookeeperHosts() {
    return required("SKIFF_ZOOKEEPER_HOSTS");
  }

  /** @return host:port list of the shared Cassandra */
  public static String cassandraHosts() {
    return required("SKIFF_CASSANDRA_HOSTS");
  }

  private static String required(String variable) {
    String v = System.getenv(variable);
    if (v == null || v.isBlank()) {
      Assertions.fail(variable + " is not set: run the tests with scripts/test.sh, which starts the service and sets it");
    }
    return v.trim();
  }

  /** The ZooKeeper namespace under which tests make namespaces of their own: {@code skiff-test/NAME}. */
  public static final String ZOOKEEPER_TEST_ROOT = "skiff-test";

  /**
   * Deletes a test's namespace {@code skiff-test/NAME} and all under it from the shared ZooKeeper.
   *
   * @param namespace the test's namespace, {@code skiff-test/NAME}
   */
  public static void deleteZooKeeperNamespace(String namespace) {
    if (!namespace.startsWith(ZOOKEEPER_TEST_ROOT + "/") || namespace.length() <= ZOOKEEPER_TEST_ROOT.length() + 1) {
      throw new IllegalArgumentException("not a test namespace: " + namespace);
    }
    try (ZooKeeperClient zk = ZooKeeperClient.builder().name("test-cleanup")
        .config(Config.of(Map.of("zookeeper.hosts", zookeeperHosts(), "zookeeper.namespace", ZOOKEEPER_TEST_ROOT)))
        .build().start()) {
      zk.curator().delete().quietly().deletingChildrenIfNeeded().forPath(namespace.substring(ZOOKEEPER_TEST_ROOT.length()));
    } catch (Exception e) {
      throw new IllegalStateException("could not delete the test's ZooKeeper namespace " + namespace + ": " + e, e);
    }
  }

  /**
   * A started client of the shared ZooKeeper, in a test's namespace.
   *
   * @param name the client's name
   * @param namespace the test's namespace, {@code skiff-test/NAME}
   * @param metrics where its metrics go
   * @param health where its health check goes
   * @return the client, started
   */
  public static ZooKeeperClient zookeeperClient(String name, String namespace, MetricRegistry metrics, HealthCheckRegistry health) {
    return ZooKeeperClient.builder()
        .name(name)
        .config(Config.of(Map.of("zookeeper.hosts", zookeeperHosts(), "zookeeper.namespace", namespace)))
        .metrics(metrics)
        .healthChecks(health)
        .build()
        .start();
  }

  /** @return environment with nothing of this process's SKIFF_ variables (tests set what they need) */
  public static Map<String, String> noEnvironment() {
    return Map.of();
  }

  /** @return a TCP port free on 127.0.0.1 now */
  public static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Drops a test's keyspace. A schema change waits for every node to agree, which on a loaded 2-core
   * machine can take longer than a query's usual 5 s: given a minute here, so that cleaning up never fails
   * a test that passed.
   *
   * @param c a started client
   * @param keyspace the keyspace
   */
  public static void dropKeyspace(dev.skiff.service.cassandra.CassandraClient c, String keyspace) {
    c.session("system").driver().execute(
        com.datastax.oss.driver.api.core.cql.SimpleStatement.newInstance("DROP KEYSPACE IF EXISTS " + keyspace)
            .setTimeout(java.time.Duration.ofMinutes(1)));
  }

  /**
   * Drops a test's keyspace through a client of its own, closed after.
   *
   * @param config where Cassandra is ({@code cassandra.*})
   * @param keyspace the keyspace
   */
  public static void dropKeyspace(Config config, String keyspace) {
    try (dev.skiff.service.cassandra.CassandraClient c =
        dev.skiff.service.cassandra.CassandraClient.builder().name("test").config(config).build().start()) {
      dropKeyspace(c, keyspace);
    }
  }

  /**
   * @param hosts the contact points, host:port separated by commas
   * @return the settings of a test's client of Cassandra there (a map to add to): consistency ONE (a
   *     single node), schema changes seen at once, and sessions that close at once: the driver's default
   *     is to keep each session's netty event loops for a 2 s quiet period at close, which a test would pay
   *     at every client it closes (TestKeyspace closes one after every test); nothing is sent during close,
   *     so the quiet period guards nothing a test looks at
   */
  public static Map<String, String> cassandraSettings(String hosts) {
    Map<String, String> m = new HashMap<>();
    m.put("cassandra.hosts", hosts);
    m.put("cassandra.consistency", "ONE");
    m.put("cassandra.driver.advanced.metadata.schema.debouncer.window", "0");
    m.put("cassandra.driver.advanced.netty.io-group.shutdown.quiet-period", "0");
    m.put("cassandra.driver.advanced.netty.admin-group.shutdown.quiet-period", "0");
    return m;
  }

  /**
   * @param prefix what the keyspace is for, e.g. {@code skiff_login}
   * @return a keyspace name of a test's own: the prefix, {@code _t_} and 12 random hex digits
   */
  public static String testKeyspace(String prefix) {
    return prefix + "_t_" + java.util.UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }
}
