package dev.skiff.platform.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Layers, live reloads of watched files, validation and listeners, on real files. */
class LayeredConfigTest {
  @TempDir Path dir;

  private Path write(String name, String text) throws IOException {
    Path p = dir.resolve(name);
    Path tmp = dir.resolve(name + ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, p, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return p;
  }

  /** @return a builder of a config that reads the file alone, and looks for changes in it every 50 ms */
  private static LayeredConfig.Builder watching(Path file) {
    return LayeredConfig.builder().watchedFile(file, Duration.ofMillis(50)).environment(Map.of());
  }

  @Test
  void laterLayersWinDefaultsFilesSourcesEnvironmentThenSystemProperties() throws IOException {
    Path file = write("app.conf", "cassandra { hosts = [\"f1\", \"f2\"], keyspace = k, datacenter = dcf, consistency = ONE }\nmemcached.hosts = m1\n");
    try (LayeredConfig c =
        LayeredConfig.builder()
            .defaults(Map.of("cassandra.hosts", "d", "cassandra.port", 9042, "cassandra.request-timeout", "1s"))
            .file(file)
            .source(ConfigSources.map("zk", Map.of("cassandra.keyspace", "fromsource", "memcached.hosts", "m2")))
            .environment(Map.of(
                "SKIFF_CASSANDRA_DATACENTER", "dcenv",
                "SKIFF_CASSANDRA_REQUEST_TIMEOUT", "3s",
                "SKIFF_ZOOKEEPER_SESSION_TIMEOUT", "9s",
                "SKIFF_MEMCACHED_HOSTS", "m3",
                "PATH", "/bin"))
            .systemProperties(Map.of("skiff.memcached.hosts", "m4", "other", "x"))
            .build()) {
      Config cfg = c.current();
      assertThat(cfg.getInt("cassandra.port")).as("default").isEqualTo(9042);
      assertThat(cfg.getList("cassandra.hosts")).as("file over default; HOCON list").containsExactly("f1", "f2");
      assertThat(cfg.getString("cassandra.consistency")).as("file").isEqualTo("ONE");
      assertThat(cfg.getString("cassandra.keyspace")).as("source over file").isEqualTo("fromsource");
      assertThat(cfg.getString("cassandra.datacenter")).as("env over file").isEqualTo("dcenv");
      assertThat(cfg.getDuration("cassandra.request-timeout")).as("env over a dashed default").hasSeconds(3);
      assertThat(cfg.getDuration("zookeeper.session-timeout", Duration.ZERO))
          .as("env for a dashed path nothing else names").hasSeconds(9);
      assertThat(cfg.getString("memcached.hosts")).as("system property over all").isEqualTo("m4");
      assertThat(cfg.origin("memcached.hosts")).contains("system property skiff.memcached.hosts");
      assertThat(cfg.origin("cassandra.datacenter")).contains("env SKIFF_CASSANDRA_DATACENTER");
      assertThat(cfg.has("path")).as("only SKIFF_ variables are read").isFalse();
    }
  }

  @Test
  void aBrokenFileAtStartIsAnErrorThatNamesTheFile() throws IOException {
    Path file = write("bad.conf", "cassandra { hosts = \n");
    assertThatThrownBy(() -> LayeredConfig.builder().file(file).environment(Map.of()).build())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("bad.conf");
    assertThatThrownBy(() -> LayeredConfig.builder().file(dir.resolve("missing.conf")).build())
        .hasMessageContaining("missing.conf: no such file");
  }

  @Test
  void aWatchedFileReloadsLiveAndOnlyListenersOfChangedPrefixesAreCalled() throws IOException {
    Path file = write("live.conf", "cassandra.hosts = a\nmemcached.hosts = m\n");
    List<String> cassandraSeen = new CopyOnWriteArrayList<>();
    List<String> memcachedSeen = new CopyOnWriteArrayList<>();
    try (LayeredConfig c = watching(file).build()) {
      c.onChange("cassandra", cfg -> cassandraSeen.add(cfg.getString("cassandra.hosts")));
      c.onChange("memcached", cfg -> memcachedSeen.add(cfg.getString("memcached.hosts")));
      write("live.conf", "cassandra.hosts = b\nmemcached.hosts = m\n");
      await().atMost(Duration.ofSeconds(5)).until(() -> cassandraSeen.contains("b"));
      assertThat(c.current().getString("cassandra.hosts")).isEqualTo("b");
      assertThat(memcachedSeen).as("memcached's values did not change").isEmpty();
    }
  }

  @Test
  void anInvalidChangeIsRejectedWithTheKeyNamedAndTheLastGoodValuesStay() throws IOException {
    Path file = write("v.conf", "memcached.timeout = 1s\n");
    List<ConfigException> errors = new CopyOnWriteArrayList<>();
    List<Config> seen = new CopyOnWriteArrayList<>();
    try (LayeredConfig c =
        watching(file)
            .validator(cfg -> cfg.getDuration("memcached.timeout", Duration.ofSeconds(1)))
            .onError(errors::add)
            .build()) {
      c.onChange("", seen::add);
      write("v.conf", "memcached.timeout = soon\n");
      await().atMost(Duration.ofSeconds(5)).until(() -> !errors.isEmpty());
      assertThat(errors.get(0).path()).isEqualTo("memcached.timeout");
      assertThat(errors.get(0)).hasMessageContaining("memcached.timeout = 'soon'").hasMessageContaining("v.conf");
      assertThat(c.current().getDuration("memcached.timeout")).as("last good value").hasSeconds(1);
      assertThat(seen).as("listeners never see a rejected config").isEmpty();
      assertThat(c.rejectedChanges()).isEqualTo(1);

      write("v.conf", "memcached.timeout = { broken\n");
      await().atMost(Duration.ofSeconds(5)).until(() -> errors.size() == 2);
      assertThat(errors.get(1)).hasMessageContaining("v.conf");

      write("v.conf", "memcached.timeout = 2s\n");
      await().atMost(Duration.ofSeconds(5)).until(() -> seen.size() == 1);
      assertThat(c.current().getDuration("memcached.timeout")).hasSeconds(2);
    }
  }

  @Test
  void aValidatorAddedLaterChecksTheConfigInForce() {
    try (LayeredConfig c =
        LayeredConfig.builder().defaults(Map.of("a.port", "x")).environment(Map.of()).build()) {
      assertThatThrownBy(() -> c.addValidator(cfg -> cfg.getInt("a.port", 1)))
          .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo("a.port"));
      assertThat(c.reload()).as("nothing changed").isFalse();
    }
  }
}
