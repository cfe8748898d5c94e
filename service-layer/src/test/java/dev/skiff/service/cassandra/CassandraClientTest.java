package dev.skiff.service.cassandra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import com.datastax.oss.driver.api.core.DefaultConsistencyLevel;
import com.datastax.oss.driver.api.core.cql.Row;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.service.MutableSource;
import dev.skiff.service.TestStores;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The Cassandra client against the shared Cassandra node. Each test works in a keyspace of its own. */
class CassandraClientTest {
  static final Query INSERT = Query.of("insert-order", "INSERT INTO orders (id, customer, total, status) VALUES (?, ?, ?, ?)");
  static final Query GET = Query.of("get-order", "SELECT customer, total, status FROM orders WHERE id = ?").idempotent();

  private final String keyspace = "skiff_t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
  private final MetricRegistry metrics = new MetricRegistry();
  private final HealthCheckRegistry health = new HealthCheckRegistry();
  private CassandraClient cleanup;

  private CassandraClient client(Map<String, String> values) {
    CassandraClient c = CassandraClient.builder().config(Config.of(values)).metrics(metrics).healthChecks(health).build().start();
    cleanup = c;
    return c;
  }

  @AfterEach
  void dropKeyspace() {
    if (cleanup != null) {
      try (CassandraClient c = CassandraClient.builder().name("cleanup").config(Config.of(TestStores.cassandraSettings(TestStores.cassandraHosts())))
          .build().start()) {
        TestStores.dropKeyspace(c, keyspace);
      }
      cleanup.close();
    }
  }

  @Test
  void migrationsCreateTheKeyspaceApplyEachVersionOnceAndRecordIt() {
    try (CassandraClient c = client(TestStores.cassandraSettings(TestStores.cassandraHosts()))) {
      MigrationReport first = c.migrate(keyspace, "cassandra/shop");
      assertThat(first.applied()).containsExactly("V1__create_orders.cql", "V2__add_status.cql");
      MigrationReport second = c.migrate(keyspace, "cassandra/shop");
      assertThat(second.applied()).as("applied once only").isEmpty();
      assertThat(second.alreadyApplied()).containsExactly("V1__create_orders.cql", "V2__add_status.cql");
      assertThat(c.session(keyspace).driver().execute("SELECT version FROM skiff_schema_migrations").all()).hasSize(2);

      assertThatThrownBy(() -> c.migrate(keyspace, "cassandra/shop_changed"))
          .as("an applied file that changed is refused")
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CONFLICT))
          .hasMessageContaining("V1__create_orders.cql changed after it was applied");
      assertThatThrownBy(() -> c.migrate(keyspace, "cassandra/badly_named")).hasMessageContaining("is not named V<version>__");
      assertThatThrownBy(() -> c.migrate(keyspace, "cassandra/none")).hasMessageContaining("no migrations folder 'cassandra/none'");
    }
  }

  @Test
  void closingClosesEverySessionAtOnce() {
    // the driver keeps a session's event loops for a quiet period as it closes (2 s by default, kept
    // here): closed one after another, the three sessions below took three quiet periods
    Map<String, String> settings = TestStores.cassandraSettings(TestStores.cassandraHosts());
    settings.keySet().removeIf(k -> k.contains("quiet-period"));
    CassandraClient c = client(settings);
    c.session("system").driver().execute("SELECT release_version FROM local");
    c.session("system_schema").driver().execute("SELECT keyspace_name FROM keyspaces LIMIT 1");
    long t0 = System.nanoTime();
    c.close();
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("three sessions closed in about one quiet period")
        .isLessThan(Duration.ofMillis(4_500));
    assertThatThrownBy(() -> c.session("system")).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void queriesArePreparedOnceTimedAndUseTheirConsistency() {
    try (CassandraClient c = client(TestStores.cassandraSettings(TestStores.cassandraHosts()))) {
      c.migrate(keyspace, "cassandra/shop");
      CassandraSession s = c.session(keyspace);
      UUID id = UUID.randomUUID();
      s.execute(INSERT, id, "ada", 42, "new");
      for (int i = 0; i < 5; i++) {
        Row r = s.one(GET, id).orElseThrow();
        assertThat(r.getString("customer")).isEqualTo("ada");
        assertThat(r.getInt("total")).isEqualTo(42);
      }
      assertThat(s.one(GET, UUID.randomUUID())).isEmpty();
      assertThat(metrics.timer("cassandra." + keyspace + ".get-order").getCount()).as("a timer per statement").isEqualTo(6);
      assertThat(metrics.timer("cassandra." + keyspace + ".insert-order").getCount()).isEqualTo(1);
      assertThat(metrics.getGauges().get("cassandra.prepared").getValue()).as("each statement prepared once").isEqualTo(2);

      assertThatThrownBy(() -> s.one(GET.withConsistency(DefaultConsistencyLevel.TWO), id))
          .as("a query's own consistency is used: TWO cannot be met by one node")
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
          .hasMessageContaining("get-order");
      assertThat(s.executeAsync(GET, id).toCompletableFuture().join().one().getString("status")).isEqualTo("new");

      assertThat(health.runHealthCheck("cassandra").isHealthy()).isTrue();
      assertThat(health.runHealthCheck("cassandra").getMessage()).contains("1/1 Cassandra nodes up");
    }
    assertThat(health.getNames()).isEmpty();
    assertThat(metrics.getNames()).noneMatch(n -> n.startsWith("cassandra."));
  }

  @Test
  void theConfiguredConsistencyAndTimeoutApplyLiveToTheNextQuery() {
    Map<String, String> initial = TestStores.cassandraSettings(TestStores.cassandraHosts());
    try (MutableSource source = new MutableSource(initial);
        LayeredConfig config = LayeredConfig.builder().environment(Map.of()).source(source).build();
        CassandraClient c = CassandraClient.builder().config(config).metrics(metrics).healthChecks(health).build().start()) {
      cleanup = c;
      c.migrate(keyspace, "cassandra/shop");
      UUID id = UUID.randomUUID();
      c.session(keyspace).execute(INSERT, id, "bob", 1, "new");
      source.set("cassandra.consistency", "TWO");
      assertThatThrownBy(() -> c.session(keyspace).one(GET, id))
          .as("the new default applies at once")
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
      source.set("cassandra.keyspaces." + keyspace + ".consistency", "ONE");
      assertThat(c.session(keyspace).one(GET, id)).as("a keyspace's own default wins").isPresent();
      source.set("cassandra.request-timeout", "later");
      assertThat(config.lastError().path()).isEqualTo("cassandra.request-timeout");
      assertThat(c.settings().requestTimeout()).as("the last good value stays").isEqualTo(Duration.ofSeconds(5));

      // a driver option of the wrong type is refused with the change (given to the driver, the new session's
      // start waited forever, holding the configuration's lock)
      source.setAll(initial);
      source.set("cassandra.driver.advanced.connection.pool.local.size", "banana");
      assertThat(config.lastError().path()).isEqualTo("cassandra.driver.advanced.connection.pool.local.size");
      assertThat(c.settings().driver()).doesNotContainKey("advanced.connection.pool.local.size");

      // a move to hosts that cannot be reached fails, the old session stays and the check says so; moved
      // back, the check is healthy again
      Map<String, String> moved = new java.util.HashMap<>(initial);
      moved.put("cassandra.hosts", "127.0.0.1:" + TestStores.freePort());
      moved.put("cassandra.connect-timeout", "1s");
      source.setAll(moved);
      assertThat(health.runHealthCheck("cassandra").getMessage()).contains("the move to");
      assertThat(health.runHealthCheck("cassandra").isHealthy()).isFalse();
      source.setAll(initial);
      assertThat(health.runHealthCheck("cassandra").isHealthy()).as(health.runHealthCheck("cassandra").getMessage()).isTrue();
      assertThat(c.session(keyspace).one(GET, id)).isPresent();
    }
  }

  @Test
  void badInputGetsAClearError() {
    assertThatThrownBy(() -> CassandraClient.builder().config(Config.of(Map.of("cassandra.consistency", "MOST"))).build())
        .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo("cassandra.consistency"))
        .hasMessageContaining("must be one of");
    assertThatThrownBy(() -> CassandraClient.builder().config(Config.of(Map.of("cassandra.hosts", "no-such-host.invalid"))).build())
        .hasMessageContaining("unknown host 'no-such-host.invalid'");
    int nothing = TestStores.freePort();
    Map<String, String> unreachable = TestStores.cassandraSettings("127.0.0.1:" + nothing);
    unreachable.put("cassandra.connect-timeout", "1s");
    // nothing answers: the client starts anyway (CassandraRecoveryTest), and its queries fail at once, saying where it looked
    try (CassandraClient down = CassandraClient.builder().config(Config.of(unreachable)).build().start()) {
      assertThatThrownBy(() -> down.session("any").execute(GET, UUID.randomUUID()))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
          .hasMessageContaining("127.0.0.1:" + nothing)
          .hasMessageContaining("cassandra.hosts");
    }

    // a datacenter the nodes are not in: the driver has no node to use, and the error says where to look
    Map<String, String> elsewhere = TestStores.cassandraSettings(TestStores.cassandraHosts());
    elsewhere.put("cassandra.datacenter", "dc-nowhere");
    try (CassandraClient wrongDc = CassandraClient.builder().config(Config.of(elsewhere)).build().start()) {
      assertThatThrownBy(() -> wrongDc.session("system").execute(Query.of("local", "SELECT release_version FROM system.local")))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
          .hasMessageContaining("cassandra.datacenter");
    }

    try (CassandraClient c = client(TestStores.cassandraSettings(TestStores.cassandraHosts()))) {
      c.migrate(keyspace, "cassandra/shop");
      assertThatThrownBy(() -> c.session(keyspace).execute(Query.of("broken", "SELEKT * FROM orders")))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL))
          .hasMessageContaining("query 'broken'");
      assertThatThrownBy(() -> c.session(keyspace).execute(INSERT, "not-a-uuid", "x", 1, "y"))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INTERNAL))
          .hasMessageContaining("insert-order");
      assertThatThrownBy(() -> c.session("no_such_keyspace").execute(GET, UUID.randomUUID()))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND))
          .hasMessageContaining("no_such_keyspace");
      assertThatThrownBy(() -> c.session("bad-name")).hasMessageContaining("keyspace name");
    }
  }
}
