package dev.skiff.service.cassandra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.service.MutableSource;
import dev.skiff.service.TestStores;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Cassandra node of the test's own is stopped and started again: queries fail with a clear error
 * while it is down, the health check turns unhealthy, and the same client and sessions work again when
 * it is back. Then a config change moves the client to the shared node without a restart.
 */
class CassandraFaultTest {
  @TempDir Path dir;

  private static Map<String, String> withLongRequestTimeout(Map<String, String> settings) {
    settings.put("cassandra.request-timeout", "60s");
    return settings;
  }

  @Test
  void theSessionRecoversAfterTheNodeRestartsAndAHostChangeMovesIt() {
    String shared = TestStores.cassandraHosts(); // real-services runs only (scripts/test.sh)
    MetricRegistry metrics = new MetricRegistry();
    HealthCheckRegistry health = new HealthCheckRegistry();
    String keyspace = "skiff_fault_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    try (CassandraProcess own = new CassandraProcess(dir.resolve("node"));
        MutableSource source = new MutableSource(withLongRequestTimeout(TestStores.cassandraSettings(own.address())));
        LayeredConfig config = LayeredConfig.builder().environment(Map.of()).source(source).build();
        CassandraClient c = CassandraClient.builder().config(config).metrics(metrics).healthChecks(health).build().start()) {
      c.migrate(keyspace, "cassandra/shop");
      CassandraSession s = c.session(keyspace);
      UUID id = UUID.randomUUID();
      s.execute(CassandraClientTest.INSERT, id, "ada", 7, "new");
      String ownHostId = c.session("system").driver().execute("SELECT host_id FROM system.local").one().getUuid(0).toString();
      assertThat(health.runHealthCheck("cassandra").isHealthy()).isTrue();

      own.stop();
      await("the health check sees the node gone").atMost(Duration.ofSeconds(30))
          .until(() -> !health.runHealthCheck("cassandra").isHealthy());
      assertThat(health.runHealthCheck("cassandra").getMessage()).contains(own.address().split(":")[1]);
      // with a 60 s request timeout, UNAVAILABLE shows the query failed at once, as service-layer.md
      // promises ("when nodes go away, queries fail at once"), and did not wait for a timeout
      assertThatThrownBy(() -> s.one(CassandraClientTest.GET, id))
          .as("a query fails at once with a clear error, never hangs")
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
          .hasMessageContaining("get-order");

      own.start();
      await("the driver reconnects by itself").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
          .until(() -> health.runHealthCheck("cassandra").isHealthy());
      await("the same session answers again").atMost(Duration.ofSeconds(30)).ignoreExceptions()
          .until(() -> s.one(CassandraClientTest.GET, id).isPresent());

      source.set("cassandra.hosts", shared);
      assertThat(metrics.counter("cassandra.moves").getCount()).as("moved to the new hosts").isEqualTo(1);
      String sharedHostId = c.session("system").driver().execute("SELECT host_id FROM system.local").one().getUuid(0).toString();
      assertThat(sharedHostId).as("queries now run on the other node").isNotEqualTo(ownHostId);
      c.migrate(keyspace, "cassandra/shop");
      assertThat(s.one(CassandraClientTest.GET, id)).as("the keyspace's session moved too: a fresh node has no such row").isEmpty();
      TestStores.dropKeyspace(c, keyspace);
      own.kill(); // the client left it and its data is the test's: no need for the drain of a SIGTERM at close (6 s of CI time)
    }
  }
}
