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

  /**
   * A watched file that held values and is now empty (truncated by {@code > file}, or a tool mid-write) is
   * refused as a deleted one is: the last good values stay, a following good change applies. A file left
   * with only a comment is emptied on purpose and accepted; a list set to nothing in it is refused.
   */
  @Test
  void aWatchedFileEmptiedIsRefusedAsAWriteInProgress() throws IOException {
    Path file = write("e.conf", "memcached { hosts = \"10.0.0.1:11211\", timeout = 300ms }\n");
    List<ConfigException> errors = new CopyOnWriteArrayList<>();
    try (LayeredConfig c = watching(file).validator(cfg -> cfg.getList("memcached.hosts", List.of("127.0.0.1"))).onError(errors::add).build()) {
      Files.write(file, new byte[0]); // as `> e.conf` does
      await().atMost(Duration.ofSeconds(5)).until(() -> errors.size() == 1);
      assertThat(errors.get(0)).hasMessageContaining("e.conf: is empty now, after it held values: refused");
      assertThat(c.current().getList("memcached.hosts", List.of("127.0.0.1"))).as("the last good hosts").containsExactly("10.0.0.1:11211");
      assertThat(c.rejectedChanges()).isEqualTo(1);

      write("e.conf", "memcached { hosts = [], timeout = 300ms }\n");
      await().atMost(Duration.ofSeconds(5)).until(() -> errors.size() == 2);
      assertThat(errors.get(1)).hasMessageContaining("memcached.hosts = ''").hasMessageContaining("e.conf").hasMessageContaining("lists nothing");
      assertThat(c.current().getList("memcached.hosts")).containsExactly("10.0.0.1:11211");

      write("e.conf", "memcached { hosts = \"10.0.0.2\" }\n");
      await().atMost(Duration.ofSeconds(5)).until(() -> c.current().getList("memcached.hosts").equals(List.of("10.0.0.2")));

      write("e.conf", "# no settings\n");
      await("emptied on purpose").atMost(Duration.ofSeconds(5)).until(() -> !c.current().has("memcached.hosts"));
      assertThat(errors).hasSize(2);
    }
  }

  /** A file that is empty from the start held nothing: it is read as no values. */
  @Test
  void aFileEmptyFromTheStartIsNoValues() throws IOException {
    Path file = write("none.conf", "");
    try (LayeredConfig c = watching(file).build()) {
      assertThat(c.current().asMap()).isEmpty();
    }
  }

  /**
   * An environment variable that names no path of a lower layer reaches keys with dashes and underscores
   * of a free-form subtree through escapes: {@code __} for {@code -}, {@code ___} for {@code _}. The plain
   * name still sets a path a lower layer names, underscores included.
   */
  @Test
  void environmentVariablesReachDashesAndUnderscoresThroughEscapes() {
    try (LayeredConfig c = LayeredConfig.builder()
        .defaults(Map.of("cassandra.keyspaces.known_ks.consistency", "QUORUM"))
        .environment(Map.of(
            "SKIFF_CASSANDRA_DRIVER_BASIC_LOAD__BALANCING__POLICY_SLOW__REPLICA__AVOIDANCE", "false",
            "SKIFF_CASSANDRA_KEYSPACES_SKIFF___CONFIG_CONSISTENCY", "ONE",
            "SKIFF_CASSANDRA_KEYSPACES_KNOWN_KS_CONSISTENCY", "LOCAL_ONE",
            "SKIFF_ZOOKEEPER_SESSION_TIMEOUT", "9s"))
        .systemProperties(Map.of())
        .build()) {
      Config cfg = c.current();
      assertThat(cfg.at("cassandra.driver").asMap())
          .containsExactly(Map.entry("basic.load-balancing-policy.slow-replica-avoidance", "false"));
      assertThat(cfg.children("cassandra.keyspaces")).containsExactlyInAnyOrder("skiff_config", "known_ks");
      assertThat(cfg.getString("cassandra.keyspaces.skiff_config.consistency")).isEqualTo("ONE");
      assertThat(cfg.getString("cassandra.keyspaces.known_ks.consistency")).as("the plain name of a known path").isEqualTo("LOCAL_ONE");
      assertThat(cfg.getDuration("zookeeper.session-timeout")).as("single underscores, as before").hasSeconds(9);
    }
    assertThat(Config.environmentVariable("cassandra.keyspaces.skiff_config.consistency"))
        .isEqualTo("SKIFF_CASSANDRA_KEYSPACES_SKIFF___CONFIG_CONSISTENCY");
    assertThatThrownBy(() -> LayeredConfig.builder().environment(Map.of("SKIFF_A____B", "x")).systemProperties(Map.of()).build())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("environment variable SKIFF_A____B names no config path");
    assertThatThrownBy(() -> LayeredConfig.builder().environment(Map.of("SKIFF_A_", "x")).systemProperties(Map.of()).build())
        .hasMessageContaining("SKIFF_A_ names no config path");
  }
}
