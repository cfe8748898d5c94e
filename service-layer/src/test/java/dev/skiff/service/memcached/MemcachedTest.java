package dev.skiff.service.memcached;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.health.HealthCheckRegistry;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.platform.config.ConfigException;
import dev.skiff.platform.config.LayeredConfig;
import dev.skiff.service.MutableSource;
import dev.skiff.service.TestStores;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The memcached client against real memcached servers: the shared one and some of the tests' own. */
class MemcachedTest {
  private final MetricRegistry metrics = new MetricRegistry();
  private final HealthCheckRegistry health = new HealthCheckRegistry();
  private final String prefix = "t-" + UUID.randomUUID() + "-";

  private Memcached client(String hosts) {
    return client(hosts, "300ms");
  }

  private Memcached client(String hosts, String timeout) {
    return Memcached.builder()
        .config(Config.of(Map.of("memcached.hosts", hosts, "memcached.timeout", timeout)))
        .metrics(metrics)
        .healthChecks(health)
        .build()
        .start();
  }

  @Test
  void getSetDeleteAndMultiGetWithTimesToLive() {
    try (Memcached m = client(TestStores.memcachedHosts())) {
      m.setString(prefix + "a", "alpha", Duration.ofMinutes(1));
      m.set(prefix + "b", new byte[] {1, 2, 3}, Duration.ofMinutes(1));
      assertThat(m.getString(prefix + "a")).contains("alpha");
      assertThat(m.getMulti(List.of(prefix + "a", prefix + "b", prefix + "none")))
          .as("a multi-get returns what it found, misses absent")
          .containsOnlyKeys(prefix + "a", prefix + "b");
      assertThat(m.delete(prefix + "a")).isTrue();
      assertThat(m.delete(prefix + "a")).as("nothing left to delete").isFalse();
      assertThat(m.get(prefix + "a")).isEmpty();

      m.setString(prefix + "short", "x", Duration.ofSeconds(1));
      assertThat(m.getString(prefix + "short")).contains("x");
      await("the value expires after its TTL").atMost(Duration.ofSeconds(4)).pollInterval(Duration.ofMillis(200))
          .until(() -> m.get(prefix + "short").isEmpty());

      assertThat(metrics.counter("memcached.hits").getCount()).isGreaterThanOrEqualTo(3);
      assertThat(metrics.timer("memcached.set").getCount()).isEqualTo(3);
      assertThat(health.runHealthCheck("memcached").isHealthy()).isTrue();
    }
    assertThat(health.getNames()).as("close removes the health check").doesNotContain("memcached");
    assertThat(metrics.getNames()).as("close removes the metrics").noneMatch(n -> n.startsWith("memcached."));
  }

  @Test
  void readThroughLoadsOnceThenServesFromTheCache() {
    AtomicInteger loads = new AtomicInteger();
    try (Memcached m = client(TestStores.memcachedHosts())) {
      for (int i = 0; i < 3; i++) {
        String v = m.readThrough(prefix + "rt", Duration.ofMinutes(1), Codec.utf8(), () -> "loaded-" + loads.incrementAndGet());
        assertThat(v).isEqualTo("loaded-1");
      }
      assertThat(loads).as("only the first read loads").hasValue(1);
      assertThat(m.readThrough(prefix + "null", Duration.ofMinutes(1), Codec.utf8(), () -> null))
          .as("null is returned and not cached").isNull();
      assertThat(m.get(prefix + "null")).isEmpty();
    }
  }

  @Test
  void badKeysTimesToLiveAndConfigurationAreRefusedNamingWhatIsWrong() {
    try (Memcached m = client(TestStores.memcachedHosts())) {
      assertThatThrownBy(() -> m.get("has space")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'has space'");
      assertThatThrownBy(() -> m.get("k".repeat(251))).hasMessageContaining("1 to 250 bytes");
      assertThatThrownBy(() -> m.set(prefix + "x", new byte[1], Duration.ofDays(31))).hasMessageContaining("30 days");
    }
    assertThatThrownBy(() -> client("127.0.0.1:notaport"))
        .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo("memcached.hosts"))
        .hasMessageContaining("'127.0.0.1:notaport' is not");
    assertThatThrownBy(() -> client("no-such-host.invalid:11211"))
        .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo("memcached.hosts"))
        .hasMessageContaining("unknown host 'no-such-host.invalid'");
    assertThatThrownBy(() -> Memcached.builder().config(Config.of(Map.of("memcached.timeout", "fast"))).build())
        .hasMessageContaining("memcached.timeout = 'fast'");
  }

  /**
   * With its server dead, read-through answers from the loader at once: the client knows the server is
   * gone and does not wait out an operation's timeout, here 120 s so that waiting for it could not go
   * unnoticed (the reads must return within 60 s, a bound that otherwise only stops a hung test).
   */
  @Test
  void whenMemcachedDiesReadsFallThroughToTheLoaderAndNothingThrowsAtTheCaller() throws Exception {
    try (MemcachedProcess server = new MemcachedProcess(); Memcached m = client(server.address(), "120s")) {
      AtomicInteger loads = new AtomicInteger();
      assertThat(m.readThrough(prefix + "k", Duration.ofMinutes(1), Codec.utf8(), () -> "v" + loads.incrementAndGet())).isEqualTo("v1");
      assertThat(m.readThrough(prefix + "k", Duration.ofMinutes(1), Codec.utf8(), () -> "v" + loads.incrementAndGet())).isEqualTo("v1");

      server.kill();
      await("the client sees the server gone").atMost(Duration.ofSeconds(5)).until(() -> m.availableServers().isEmpty());
      List<String> read = CompletableFuture.supplyAsync(() -> {
        List<String> values = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
          values.add(m.readThrough(prefix + "k", Duration.ofMinutes(1), Codec.utf8(), () -> "db" + loads.incrementAndGet()));
        }
        return values;
      }, MemcachedTest::ownThread).get(60, TimeUnit.SECONDS);
      assertThat(read).as("the loader's values, no exception, no wait for the 120 s timeout")
          .containsExactly("db2", "db3", "db4", "db5", "db6");
      assertThat(metrics.counter("memcached.read-through.fallbacks").getCount()).isEqualTo(5);
      assertThatThrownBy(() -> m.get(prefix + "k"))
          .as("a plain get says memcached is unavailable (not TIMEOUT: it did not wait)")
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
      assertThat(health.runHealthCheck("memcached").isHealthy()).isFalse();
      assertThat(health.runHealthCheck("memcached").getMessage()).contains("down").contains(server.address().split(":")[1]);

      server.start();
      await("the client reconnects by itself").atMost(Duration.ofSeconds(10))
          .until(() -> health.runHealthCheck("memcached").isHealthy());
      m.readThrough(prefix + "k2", Duration.ofMinutes(1), Codec.utf8(), () -> "fresh");
      assertThat(m.getString(prefix + "k2")).as("caching again").contains("fresh");
    }
  }

  private static void ownThread(Runnable r) {
    Thread t = new Thread(r, "memcached-test-reads");
    t.setDaemon(true);
    t.start();
  }

  @Test
  void keysSpreadOverTheServersByConsistentHashingAndLiveHostChangesMoveFewKeys() {
    try (MemcachedProcess a = new MemcachedProcess();
        MemcachedProcess b = new MemcachedProcess();
        MemcachedProcess c = new MemcachedProcess();
        MutableSource source = new MutableSource(Map.of("memcached.hosts", a.address() + "," + b.address()));
        LayeredConfig config = LayeredConfig.builder().environment(Map.of()).source(source).build();
        Memcached m = Memcached.builder().config(config).metrics(metrics).healthChecks(health).build().start();
        Memcached onlyA = Memcached.builder().name("only-a").config(Config.of(Map.of("memcached.hosts", a.address()))).build().start();
        Memcached onlyB = Memcached.builder().name("only-b").config(Config.of(Map.of("memcached.hosts", b.address()))).build().start()) {
      List<String> keys = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        keys.add(prefix + i);
      }
      // servers just started: a first operation may wait out the client's 500-ms timeout while its connection
      // is made (CI met it); what is tested here is where keys go, so a set that timed out is tried again
      for (String k : keys) {
        await().atMost(Duration.ofSeconds(10)).ignoreExceptionsInstanceOf(dev.skiff.platform.SkiffException.class)
            .until(() -> {
              m.set(k, k.getBytes(StandardCharsets.UTF_8), Duration.ofMinutes(5));
              return true;
            });
      }
      int onA = onlyA.getMulti(keys).size();
      int onB = onlyB.getMulti(keys).size();
      assertThat(onA + onB).as("every key is on exactly one server").isEqualTo(keys.size());
      assertThat(onA).as("both servers hold a fair share").isBetween(60, 240);

      source.set("memcached.hosts", a.address() + "," + b.address() + "," + c.address());
      await().atMost(Duration.ofSeconds(5)).until(() -> m.availableServers().size() == 3);
      int stillHit = m.getMulti(keys).size();
      assertThat(stillHit)
          .as("adding a third server moves about a third of the keys (modulo hashing would move two thirds)")
          .isGreaterThan(keys.size() * 55 / 100);

      source.set("memcached.hosts", c.address());
      await().atMost(Duration.ofSeconds(5)).until(() -> m.availableServers().size() == 1);
      m.setString(prefix + "moved", "c", Duration.ofMinutes(1));
      try (Memcached onlyC = Memcached.builder().name("only-c").config(Config.of(Map.of("memcached.hosts", c.address()))).build().start()) {
        assertThat(onlyC.getString(prefix + "moved")).as("writes now go to the new host, no restart").contains("c");
      }

      source.set("memcached.hosts", "no-such-host.invalid");
      assertThat(config.lastError()).as("an unknown host is refused, naming the key").isNotNull();
      assertThat(config.lastError().path()).isEqualTo("memcached.hosts");
      assertThat(m.settings().hosts()).as("the last good hosts stay").hasSize(1);
    }
  }

  /**
   * A server started with a larger item size ({@code -I 2m}) takes values over 1 MiB once the client is
   * told so ({@code max-item-size}); the client's default refuses them before anything is sent.
   */
  @Test
  void theItemSizeIsTheClientsSettingForServersThatTakeLargerItems() {
    byte[] value = new byte[3 << 19]; // 1.5 MiB
    value[value.length - 1] = 7;
    try (MemcachedProcess server = new MemcachedProcess(TestStores.freePort(), true, List.of("-I", "2m"));
        Memcached large = Memcached.builder().name("large")
            .config(Config.of(Map.of("memcached.hosts", server.address(), "memcached.max-item-size", "2m",
                // 1.5 MiB each way on a machine the whole suite loads: more than the default's half second
                "memcached.timeout", "5s"))).build().start();
        Memcached standard = Memcached.builder().name("standard")
            .config(Config.of(Map.of("memcached.hosts", server.address()))).build().start()) {
      assertThat(large.settings().maxItemSize()).isEqualTo(2 << 20);
      await().atMost(Duration.ofSeconds(30)).ignoreExceptionsInstanceOf(SkiffException.class).until(() -> {
        large.set(prefix + "large", value, Duration.ofMinutes(1));
        return true;
      });
      assertThat(large.get(prefix + "large")).as("stored and read back whole").hasValueSatisfying(v -> assertThat(v).isEqualTo(value));
      assertThatThrownBy(() -> standard.set(prefix + "large", value, Duration.ofMinutes(1)))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST))
          .hasMessageContaining("memcached.max-item-size");
    }
  }

  @Test
  void settingsOutOfRangeAreRefusedNamingKeyValueSourceAndLimit() {
    Map<String, String> wrong = Map.of(
        "memcached.connect-timeout", "0s",
        "memcached.reconnect-interval", "0ms",
        "memcached.timeout", "600h",
        "memcached.max-item-size", "lots");
    wrong.forEach((key, value) -> assertThatThrownBy(() -> Memcached.builder().config(Config.of(Map.of(key, value))).build())
        .as(key)
        .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo(key))
        .hasMessageContaining(key + " = '" + value + "' (from map)"));
    assertThatThrownBy(() -> Memcached.builder().config(Config.of(Map.of("memcached.connect-timeout", "600h"))).build())
        .hasMessageContaining("at most 24h");
    assertThatThrownBy(() -> Memcached.builder().config(Config.of(Map.of("memcached.max-item-size", "2g"))).build())
        .hasMessageContaining("1k to 1024m");
  }

  /** The same server twice, by the same address or by two names for it, is refused: health could never be right. */
  @Test
  void aServerListedTwiceIsRefusedNamingTheKeyAndBothEntries() {
    String hosts = TestStores.memcachedHosts();
    String port = hosts.split(",")[0].split(":")[1];
    for (String twice : List.of("127.0.0.1:" + port + ",localhost:" + port, "127.0.0.1:" + port + ",127.0.0.1:" + port)) {
      assertThatThrownBy(() -> client(twice))
          .as(twice)
          .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo("memcached.hosts"))
          .hasMessageContaining("memcached.hosts = '" + twice + "'")
          .hasMessageContaining("the same server twice");
    }
  }
}
