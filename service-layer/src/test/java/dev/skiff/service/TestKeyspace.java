package dev.skiff.service;

import dev.skiff.platform.config.Config;
import java.util.Map;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A keyspace of a test's own on the shared Cassandra ({@link TestStores#cassandraHosts}), dropped after
 * each test: after the test class's own {@code @AfterEach} methods, which close what uses it. Register it
 * on an instance field, so that every test gets a new one:
 *
 * <pre>{@code
 * @RegisterExtension final TestKeyspace keyspace = new TestKeyspace("skiff_login");
 * }</pre>
 */
public final class TestKeyspace implements AfterEachCallback {
  private final String name;

  /** @param prefix what the keyspace is for, e.g. {@code skiff_login} ({@link TestStores#testKeyspace}) */
  public TestKeyspace(String prefix) {
    this.name = TestStores.testKeyspace(prefix);
  }

  /** @return the keyspace's name */
  public String name() {
    return name;
  }

  /**
   * @param more further settings (e.g. which keyspace a store uses)
   * @return the configuration of a client of the shared node ({@link TestStores#cassandraSettings}) with them
   */
  public Config config(Map<String, String> more) {
    Map<String, String> m = TestStores.cassandraSettings(TestStores.cassandraHosts());
    m.putAll(more);
    return Config.of(m);
  }

  @Override
  public void afterEach(ExtensionContext context) {
    TestStores.dropKeyspace(config(Map.of()), name);
  }
}
