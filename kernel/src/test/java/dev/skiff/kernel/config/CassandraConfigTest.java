package dev.skiff.kernel.config;

import static dev.skiff.kernel.config.ConfigFixture.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.Refusals;
import dev.skiff.platform.config.Config;
import dev.skiff.proto.v1.ConfigChange;
import dev.skiff.proto.v1.ConfigEdit;
import dev.skiff.proto.v1.ConfigLeaf;
import dev.skiff.proto.v1.ConfigLog;
import dev.skiff.proto.v1.ConfigLogRequest;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.RollbackConfigRequest;
import dev.skiff.service.TestKeyspace;
import dev.skiff.service.cassandra.CassandraClient;
import dev.skiff.testing.RabbitMqExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The config service on Cassandra (the shared node, a keyspace of the test's own): layers and history survive a restart. */
class CassandraConfigTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @RegisterExtension final TestKeyspace keyspace = new TestKeyspace("skiff_config");
  private final ConfigFixture f = new ConfigFixture(broker.amqpUri());

  @AfterEach
  void tearDown() {
    f.close();
  }

  private Config config() {
    return keyspace.config(Map.of());
  }

  private CassandraConfigStore store() {
    return new CassandraConfigStore(config(), keyspace.name());
  }

  @Test
  void layersHistoryAndExplainSurviveARestartAndAChangeRecordedWithoutItsLayersIsRepaired() {
    f.start(store());
    String admin = f.admin();
    f.set(admin, layer("", "", ""), "timeout", "5");
    long good = f.set(admin, layer("greeter", "", ""), "greeting", "\"hello\"").getId();
    f.set(admin, layer("greeter", "", ""), "greeting", "\"BROKEN\"");
    ConfigChange back = f.as(admin).call(ConfigService.SERVICE, "rollback",
        RollbackConfigRequest.newBuilder().setToVersion(good).setBaseVersion(good + 1).setMessage("undo").build(), ConfigChange.class);
    f.stopConfig();

    // a change recorded by a copy that stopped before writing its layer
    try (CassandraConfigStore s = store()) {
      s.start();
      ConfigChange lost = ConfigChange.newBuilder().setId(back.getId() + 1).setAtMs(1).setUser("admin").setMessage("half written")
          .addEdits(ConfigEdit.newBuilder().setLayer("region/eu").setPath("db.host").setNewJson("\"db.eu\"")).build();
      assertThat(s.append(lost, List.of())).isTrue();
      assertThat(s.append(lost, List.of())).as("a version is made once").isFalse();
    }

    f.start(store());
    ConfigView view = f.get(admin, "greeter", "eu", "", "", true);
    assertThat(view.getVersion()).isEqualTo(back.getId() + 1);
    assertThat(view.getJson()).isEqualTo("{\"db\":{\"host\":\"db.eu\"},\"greeting\":\"hello\",\"timeout\":5}");
    assertThat(view.getLeavesList()).extracting(ConfigLeaf::getPath, ConfigLeaf::getLayer, ConfigLeaf::getChangeId).containsExactly(
        org.assertj.core.groups.Tuple.tuple("db.host", "region/eu", back.getId() + 1),
        org.assertj.core.groups.Tuple.tuple("greeting", "service/greeter", back.getId()),
        org.assertj.core.groups.Tuple.tuple("timeout", "global", 1L));
    ConfigLog log = f.as(admin).call(ConfigService.SERVICE, "log", ConfigLogRequest.getDefaultInstance(), ConfigLog.class);
    assertThat(log.getChangesList()).extracting(ConfigChange::getId).containsExactly(5L, 4L, 3L, 2L, 1L);
    assertThat(log.getChanges(1)).isEqualTo(back);
    // the repaired layer was written: a third start reads it from the layers table
    f.stopConfig();
    SecretCipher cipher = SecretCipher.of(new byte[32]);
    f.start(store(), java.util.Optional.of(cipher));
    assertThat(f.get(admin, "", "eu", "", "db.host", false).getJson()).isEqualTo("\"db.eu\"");
    assertThat(f.set(admin, layer("", "eu", ""), "db.host", "\"db2.eu\"").getId()).isEqualTo(6);

    // a secret is stored sealed (layers and history) and, after a restart, still opens for its service alone
    String secret = "cassandra-secret-Yw2";
    f.as(admin).call(ConfigService.SERVICE, "set", dev.skiff.proto.v1.SetConfigRequest.newBuilder().setLayer(layer("greeter", "", ""))
        .setPath("db.password").setValueJson("\"" + secret + "\"").setSecret(true).setMessage("pw").setBaseVersion(6).build(), ConfigChange.class);
    f.stopConfig();
    f.start(store(), java.util.Optional.of(cipher));
    assertThat(f.asService("greeter").call(ConfigService.SERVICE, "get", dev.skiff.proto.v1.GetConfigRequest.newBuilder()
        .setService("greeter").setPath("db.password").build(), ConfigView.class).getJson()).isEqualTo("\"" + secret + "\"");
    assertThat(f.get(admin, "greeter", "", "", "db.password", false).getJson()).isEqualTo("\"<secret>\"");
    try (CassandraClient c = CassandraClient.builder().name("test").config(config()).build().start()) {
      StringBuilder raw = new StringBuilder();
      c.session("system").driver().execute("SELECT doc FROM " + keyspace.name() + ".layers").forEach(r -> raw.append(r.getString(0)));
      c.session("system").driver().execute("SELECT change FROM " + keyspace.name() + ".changes").forEach(r -> raw.append(
          java.nio.charset.StandardCharsets.ISO_8859_1.decode(r.getByteBuffer(0))));
      assertThat(raw.toString()).contains("$secret").contains("db2.eu").doesNotContain(secret);
    }
  }

  @Test
  void twoCopiesOnOneKeyspaceMakeOneConsecutiveHistory() {
    f.start(store());
    f.start(store()); // a second copy: the broker hands each call to one of them
    String admin = f.admin();
    for (int i = 1; i <= 10; i++) {
      ConfigChange c = f.set(admin, layer("s" + (i % 3), "", ""), "n", Integer.toString(i));
      assertThat(c.getId()).isEqualTo(i);
    }
    ConfigLog log = f.as(admin).call(ConfigService.SERVICE, "log", ConfigLogRequest.getDefaultInstance(), ConfigLog.class);
    assertThat(log.getChangesList()).extracting(ConfigChange::getId).containsExactly(10L, 9L, 8L, 7L, 6L, 5L, 4L, 3L, 2L, 1L);
    // a change made against a version older than its layer's newest is refused whichever copy gets it
    for (int i = 0; i < 4; i++) {
      Refusals.assertRefused(() -> f.set(admin, layer("s1", "", ""), "n", "0", 9), dev.skiff.platform.ErrorCode.CONFLICT);
    }
    assertThat(f.get(admin, "s1", "", "", "n", false).getJson()).isEqualTo("10");
  }
}
