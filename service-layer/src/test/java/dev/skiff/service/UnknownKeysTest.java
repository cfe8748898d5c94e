package dev.skiff.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.codahale.metrics.MetricRegistry;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.service.cassandra.CassandraClient;
import dev.skiff.service.memcached.Memcached;
import dev.skiff.service.zookeeper.ZooKeeperClient;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A key under a client's path that the client does not know (a typo that would leave the default in
 * force unnoticed) is refused naming the key, its source and the nearest known key; from the
 * environment, whose {@code SKIFF_} variables other tools share, it is reported and counted.
 */
class UnknownKeysTest {

  @Test
  void aMistypedKeyIsRefusedAtBuildNamingItsSourceAndTheNearestKey() {
    assertThatThrownBy(() -> CassandraClient.builder().config(Config.of(Map.of("cassandra.request-timout", "1ms"))).build())
        .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo("cassandra.request-timout"))
        .hasMessageContaining("cassandra.request-timout = '1ms' (from map)")
        .hasMessageContaining("did you mean cassandra.request-timeout?");
    assertThatThrownBy(() -> Memcached.builder().config(Config.of(Map.of("memcached.tiemout", "1ms"))).build())
        .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo("memcached.tiemout"))
        .hasMessageContaining("did you mean memcached.timeout?");
    assertThatThrownBy(() -> ZooKeeperClient.builder().config(Config.of(Map.of("zookeeper.hostz", "h"))).build())
        .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo("zookeeper.hostz"))
        .hasMessageContaining("did you mean zookeeper.hosts?");
    assertThatThrownBy(() -> Memcached.builder().path("cache").config(Config.of(Map.of("cache.something-else", "x"))).build())
        .as("a client on another path, a key near none")
        .hasMessageContaining("cache.something-else = 'x' (from map): not a setting of the memcached client (no key is near it)")
        .hasMessageContaining("its settings are cache.hosts, cache.timeout");
  }

  @Test
  void aMistypedSystemPropertyIsRefused() {
    LayeredConfig config = LayeredConfig.builder().environment(Map.of())
        .systemProperties(Map.of("skiff.cassandra.hostz", "127.0.0.1")).build();
    assertThatThrownBy(() -> CassandraClient.builder().config(config).build())
        .hasMessageContaining("cassandra.hostz = '127.0.0.1' (from system property skiff.cassandra.hostz)")
        .hasMessageContaining("did you mean cassandra.hosts?");
  }

  @Test
  void freeFormSubtreesAndTheEnvironmentsSpellingOfKnownKeysAreTaken() {
    LayeredConfig config = LayeredConfig.builder()
        .environment(Map.of("SKIFF_CASSANDRA_REQUEST_TIMEOUT", "2s", "SKIFF_CASSANDRA_REQUIRED_AT_START", "0s"))
        .defaults(Map.of("cassandra.keyspaces.skiff_config.consistency", "ONE",
            "cassandra.driver.advanced.metadata.schema.debouncer.window", "0"))
        .build();
    MetricRegistry metrics = new MetricRegistry();
    CassandraClient c = CassandraClient.builder().config(config).metrics(metrics).build();
    assertThat(c.settings().requestTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(metrics.getCounters()).as("nothing unknown").doesNotContainKey("cassandra.config.unknown-keys");
  }

  /** SKIFF_CASSANDRA_HEAP is the Cassandra start script's: a service started in the same shell must still start. */
  @Test
  void anUnknownKeyFromTheEnvironmentIsReportedAndCountedNotRefused() {
    LayeredConfig config = LayeredConfig.builder()
        .environment(Map.of("SKIFF_MEMCACHED_TIMEOUTT", "5s", "SKIFF_MEMCACHED_HOSTS", "127.0.0.1:11211")).build();
    MetricRegistry metrics = new MetricRegistry();
    Memcached m = Memcached.builder().config(config).metrics(metrics).build();
    assertThat(m.settings().timeout()).as("the default stays").isEqualTo(Duration.ofMillis(500));
    assertThat(metrics.counter("memcached.config.unknown-keys").getCount()).isEqualTo(1);
  }

  @Test
  void aLiveChangeThatAddsAnUnknownKeyIsRefused() {
    try (MutableSource source = new MutableSource(Map.of("memcached.hosts", TestStores.memcachedHosts()));
        LayeredConfig config = LayeredConfig.builder().environment(Map.of()).source(source).build();
        Memcached m = Memcached.builder().config(config).build().start()) {
      source.set("memcached.tiemout", "1ms");
      assertThat(config.lastError()).as("refused, naming the key").isNotNull();
      assertThat(config.lastError().path()).isEqualTo("memcached.tiemout");
      assertThat(config.lastError().getMessage()).contains("did you mean memcached.timeout?");
      assertThat(config.current().find("memcached.tiemout")).as("the last good configuration stays").isEmpty();
      assertThat(m.settings().timeout()).isEqualTo(Duration.ofMillis(500));
    }
  }
}
