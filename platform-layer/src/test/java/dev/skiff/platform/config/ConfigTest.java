package dev.skiff.platform.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Typed access: every value is read as its type or refused with an error that names the key. */
class ConfigTest {
  private final Config config =
      Config.of(
          Map.of(
              "cassandra.hosts", "10.0.0.1:9043, 10.0.0.2,[::1]:9044",
              "cassandra.port", "abc",
              "cassandra.timeout", "1.5s",
              "cassandra.consistency", "local-quorum",
              "cassandra.keyspaces.a.rf", "3",
              "cassandra.keyspaces.b.rf", "1",
              "flag", "yes",
              "blank", "  "));

  enum Consistency { ONE, LOCAL_QUORUM }

  @Test
  void readsEachTypeAndTheDefaultsOfAbsentKeys() {
    Config c = config.at("cassandra");
    assertThat(c.getDuration("timeout")).isEqualTo(Duration.ofMillis(1500));
    assertThat(c.getEnum("consistency", Consistency.class, Consistency.ONE)).isEqualTo(Consistency.LOCAL_QUORUM);
    assertThat(c.getInt("keyspaces.a.rf")).isEqualTo(3);
    assertThat(c.getInt("nothing", 7)).isEqualTo(7);
    assertThat(c.children("keyspaces")).containsExactly("a", "b");
    assertThat(config.getBoolean("flag", false)).isTrue();
    assertThat(config.getString("blank", "dflt")).as("blank counts as absent").isEqualTo("dflt");
    assertThat(c.getAddresses("hosts", 9042, List.of()))
        .containsExactly(
            InetSocketAddress.createUnresolved("10.0.0.1", 9043),
            InetSocketAddress.createUnresolved("10.0.0.2", 9042),
            InetSocketAddress.createUnresolved("::1", 9044));
    assertThat(c.asMap()).containsEntry("timeout", "1.5s").doesNotContainKey("flag");
  }

  @Test
  void errorsNameTheFullKeyItsValueAndWhereItCameFrom() {
    assertThatThrownBy(() -> config.at("cassandra").getInt("port", 9042))
        .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo("cassandra.port"))
        .hasMessage("cassandra.port = 'abc' (from map): must be a whole number");
    assertThatThrownBy(() -> config.at("cassandra").getString("datacenter"))
        .hasMessageContaining("cassandra.datacenter is required")
        .hasMessageContaining("SKIFF_CASSANDRA_DATACENTER")
        .hasMessageContaining("-Dskiff.cassandra.datacenter");
    assertThatThrownBy(() -> config.at("cassandra").getEnum("timeout", Consistency.class, null))
        .hasMessageContaining("must be one of ONE, LOCAL_QUORUM");
    assertThatThrownBy(() -> config.getInt("cassandra.keyspaces.a.rf", 1, 1, 2))
        .hasMessageContaining("cassandra.keyspaces.a.rf = '3'")
        .hasMessageContaining("between 1 and 2");
    assertThatThrownBy(() -> Config.of(Map.of("h", "a:99999")).getAddresses("h", 1, List.of()))
        .hasMessageContaining("'a:99999' is not");
    assertThatThrownBy(() -> Config.of(Map.of("h", "bad:host:name")).getAddresses("h", 1, List.of()))
        .hasMessageContaining("'bad:host:name' is not");
    assertThatThrownBy(() -> Config.of(Map.of("h", "under score!")).getAddresses("h", 1, List.of()))
        .hasMessageContaining("is not");
    // a host with two ports is not an IPv6 address, though its characters are those of one
    for (String notIpv6 : List.of("127.0.0.1:2181:2182", "1:2:3", "[1:2]:80", "::1::2")) {
      assertThatThrownBy(() -> Config.of(Map.of("h", notIpv6)).getAddresses("h", 1, List.of())).as(notIpv6)
          .hasMessageContaining("'" + notIpv6 + "' is not");
    }
    assertThat(Config.of(Map.of("h", "fe80::1,[::1]:2182,::ffff:10.0.0.1")).getAddresses("h", 1, List.of()))
        .containsExactly(InetSocketAddress.createUnresolved("fe80::1", 1), InetSocketAddress.createUnresolved("::1", 2182),
            InetSocketAddress.createUnresolved("::ffff:10.0.0.1", 1));
    assertThatThrownBy(() -> config.getDuration("cassandra.hosts", Duration.ZERO))
        .hasMessageContaining("must be a duration");
  }

  @Test
  void durationsAcceptTheUsualForms() {
    Config c = Config.of(Map.of("a", "250ms", "b", "PT2S", "c", "0", "d", "5m"));
    assertThat(c.getDuration("a")).isEqualTo(Duration.ofMillis(250));
    assertThat(c.getDuration("b")).isEqualTo(Duration.ofSeconds(2));
    assertThat(c.getDuration("c")).isZero();
    assertThat(c.getDuration("d").toMillis()).isEqualTo(TimeUnit.MINUTES.toMillis(5));
  }

  @Test
  void environmentAndPropertyNamesFollowTheConvention() {
    assertThat(Config.environmentVariable("cassandra.hosts")).isEqualTo("SKIFF_CASSANDRA_HOSTS");
    assertThat(Config.environmentVariable("cassandra.request-timeout")).isEqualTo("SKIFF_CASSANDRA_REQUEST_TIMEOUT");
    assertThat(Config.systemProperty("cassandra.hosts")).isEqualTo("skiff.cassandra.hosts");
  }

  /** A value that is a duration but out of range says why, not that it is no duration. */
  @Test
  void aDurationOutOfRangeIsRefusedWithTheRealReason() {
    Config c = Config.of(Map.of("long", "100000h", "negative", "-5s", "iso", "PT-5S", "word", "soon", "ms", "5 ms"));
    assertThatThrownBy(() -> c.getDuration("long", Duration.ZERO))
        .hasMessage("long = '100000h' (from map): too long: at most a year, 8760h");
    assertThatThrownBy(() -> c.getDuration("negative", Duration.ZERO))
        .hasMessage("negative = '-5s' (from map): must not be negative");
    assertThatThrownBy(() -> c.getDuration("iso", Duration.ZERO))
        .hasMessage("iso = 'PT-5S' (from map): must not be negative");
    assertThatThrownBy(() -> c.getDuration("word", Duration.ZERO))
        .hasMessage("word = 'soon' (from map): must be a duration such as 250ms, 2s, 1.5s, 5m or 1h");
    assertThat(c.getDuration("ms")).as("a space between number and unit is allowed").isEqualTo(Duration.ofMillis(5));
  }

  /**
   * A list set to nothing ({@code hosts = ""}, {@code hosts = []} in a file, {@code SKIFF_X_HOSTS=""},
   * {@code ","}) is not an absent one: it is refused naming the key and where it came from, never
   * replaced by the default (a client would silently move to localhost).
   */
  @Test
  void aListSetEmptyIsRefusedNotReadAsAbsent() {
    for (String empty : new String[] {"", " ", ",", " , ,"}) {
      Config c = LayeredConfig.builder().environment(Map.of("SKIFF_CACHE_HOSTS", empty)).systemProperties(Map.of()).build().current();
      assertThatThrownBy(() -> c.getList("cache.hosts", List.of("127.0.0.1")))
          .as("'" + empty + "'")
          .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.path()).isEqualTo("cache.hosts"))
          .hasMessage("cache.hosts = '" + empty + "' (from env SKIFF_CACHE_HOSTS): lists nothing: give at least one item, "
              + "or remove the key for the default");
      assertThatThrownBy(() -> c.getList("cache.hosts")).as("required, '" + empty + "'")
          .hasMessageContaining("(from env SKIFF_CACHE_HOSTS): lists nothing");
      assertThatThrownBy(() -> c.getAddresses("cache.hosts", 11211, List.of("127.0.0.1")))
          .hasMessageContaining("lists nothing");
    }
    assertThat(Config.empty().getList("cache.hosts", List.of("127.0.0.1"))).as("absent: the default").containsExactly("127.0.0.1");
    assertThatThrownBy(() -> Config.empty().getList("cache.hosts")).hasMessageContaining("cache.hosts is required");
  }
}
