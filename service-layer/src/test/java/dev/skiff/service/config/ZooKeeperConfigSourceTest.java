package dev.skiff.service.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.service.TestStores;
import dev.skiff.service.zookeeper.ZooKeeperClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Configuration kept in the shared ZooKeeper: read, layered, watched, validated. */
class ZooKeeperConfigSourceTest {
  private final String namespace = TestStores.ZOOKEEPER_TEST_ROOT + "/" + UUID.randomUUID();

  @AfterEach
  void deleteNamespace() {
    TestStores.deleteZooKeeperNamespace(namespace);
  }

  private void put(ZooKeeperClient zk, String path, String value) throws Exception {
    zk.curator().create().orSetData().creatingParentsIfNeeded().forPath(path, value.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void valuesInZooKeeperAreALayerAndTheirChangesReloadTheConfig() throws Exception {
    try (ZooKeeperClient zk =
        ZooKeeperClient.builder()
            .config(Config.of(Map.of("zookeeper.hosts", TestStores.zookeeperHosts(), "zookeeper.namespace", namespace)))
            .build()
            .start()) {
      put(zk, "/config/bookings/memcached/hosts", "10.0.0.1:11211");
      put(zk, "/config/bookings/bookings/cache-ttl", "5m");
      List<ConfigException> errors = new CopyOnWriteArrayList<>();
      List<String> ttls = new CopyOnWriteArrayList<>();
      try (LayeredConfig config =
          LayeredConfig.builder()
              .environment(Map.of("SKIFF_BOOKINGS_CACHE_TTL", "1m"))
              .defaults(Map.of("memcached.hosts", "127.0.0.1", "bookings.page-size", "20"))
              .source(ZooKeeperConfigSource.of(zk, "/config/bookings"))
              .validator(c -> c.getDuration("bookings.sweep-interval", Duration.ofSeconds(1)))
              .onError(errors::add)
              .build()) {
        Config c = config.current();
        assertThat(c.getString("memcached.hosts")).as("ZooKeeper over defaults").isEqualTo("10.0.0.1:11211");
        assertThat(c.origin("memcached.hosts").orElseThrow()).contains("zookeeper").contains("/config/bookings");
        assertThat(c.getString("bookings.cache-ttl")).as("environment over ZooKeeper").isEqualTo("1m");
        assertThat(c.getInt("bookings.page-size")).isEqualTo(20);

        config.onChange("memcached", n -> ttls.add(n.getString("memcached.hosts")));
        put(zk, "/config/bookings/memcached/hosts", "10.0.0.2:11211");
        await().atMost(Duration.ofSeconds(5)).until(() -> ttls.contains("10.0.0.2:11211"));

        put(zk, "/config/bookings/bookings/sweep-interval", "often");
        await().atMost(Duration.ofSeconds(5)).until(() -> !errors.isEmpty());
        assertThat(errors.get(0).path()).isEqualTo("bookings.sweep-interval");
        assertThat(config.current().has("bookings.sweep-interval")).as("the bad value never came into force").isFalse();
      }
    }
  }

  @Test
  void aRootThatIsNotAnAbsolutePathIsRefused() {
    try (ZooKeeperClient zk =
        ZooKeeperClient.builder()
            .config(Config.of(Map.of("zookeeper.hosts", TestStores.zookeeperHosts(), "zookeeper.namespace", namespace)))
            .build()
            .start()) {
      assertThatThrownBy(() -> ZooKeeperConfigSource.of(zk, "config/x")).hasMessageContaining("absolute");
    }
  }
}
