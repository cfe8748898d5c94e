package dev.skiff.kernel.config;

import static dev.skiff.kernel.Refusals.assertRefused;
import static dev.skiff.kernel.config.ConfigFixture.layer;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.ErrorCode;
import dev.skiff.proto.v1.ConfigChange;
import dev.skiff.proto.v1.ConfigDiff;
import dev.skiff.proto.v1.ConfigDiffRequest;
import dev.skiff.proto.v1.ConfigEdit;
import dev.skiff.proto.v1.ConfigLayer;
import dev.skiff.proto.v1.ConfigLeaf;
import dev.skiff.proto.v1.ConfigLog;
import dev.skiff.proto.v1.ConfigLogRequest;
import dev.skiff.proto.v1.ConfigView;
import dev.skiff.proto.v1.GetConfigRequest;
import dev.skiff.proto.v1.RollbackConfigRequest;
import dev.skiff.proto.v1.SetConfigRequest;
import dev.skiff.testing.RabbitMqExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The config service on the real broker (memory store): hierarchy, explain, history, conflicts, rollback, roles, hostile input. */
class ConfigServiceTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  private static final ConfigLayer GLOBAL = layer("", "", "");
  private static final ConfigLayer GREETER = layer("greeter", "", "");
  private static final ConfigLayer EU = layer("", "eu", "");
  private static final ConfigLayer EU_GREETER = layer("greeter", "eu", "");
  private static final ConfigLayer PROD = layer("", "", "prod");
  private static final ConfigLayer PROD_GREETER = layer("greeter", "", "prod");

  private final ConfigFixture f = new ConfigFixture(broker.amqpUri());
  private String admin;

  @BeforeEach
  void start() {
    f.start(new MemoryConfigStore(1000));
    admin = f.admin();
  }

  @AfterEach
  void stop() {
    f.close();
  }

  @Test
  void layersMergeAtTheLeavesInHierarchyOrderAndExplainSaysWhichLayerAndChangeWon() {
    f.set(admin, GLOBAL, "db", "{\"host\":\"db.global\",\"port\":5432,\"pool\":{\"min\":1,\"max\":10}}");
    f.set(admin, GREETER, "db.pool.max", "20");
    long euHost = f.set(admin, EU, "db.host", "\"db.eu\"").getId();
    f.set(admin, EU_GREETER, "greeting", "\"hallo\"");
    f.set(admin, PROD, "db.pool.min", "5");
    long prodGreeterMax = f.set(admin, PROD_GREETER, "db.pool.max", "50").getId();
    f.set(admin, layer("other", "", ""), "db.port", "1"); // another service's layer: not seen by greeter

    ConfigView eu = f.get(admin, "greeter", "eu", "", "", true);
    assertThat(eu.getJson()).isEqualTo("{\"db\":{\"host\":\"db.eu\",\"pool\":{\"max\":20,\"min\":1},\"port\":5432},\"greeting\":\"hallo\"}");
    assertThat(eu.getLeavesList()).extracting(ConfigLeaf::getPath, ConfigLeaf::getLayer).containsExactly(
        org.assertj.core.groups.Tuple.tuple("db.host", "region/eu"),
        org.assertj.core.groups.Tuple.tuple("db.pool.max", "service/greeter"),
        org.assertj.core.groups.Tuple.tuple("db.pool.min", "global"),
        org.assertj.core.groups.Tuple.tuple("db.port", "global"),
        org.assertj.core.groups.Tuple.tuple("greeting", "region/eu/service/greeter"));
    assertThat(eu.getLeaves(0).getChangeId()).isEqualTo(euHost);

    ConfigView prod = f.get(admin, "greeter", "", "prod", "db.pool", true);
    assertThat(prod.getJson()).isEqualTo("{\"max\":50,\"min\":5}");
    assertThat(prod.getLeavesList()).extracting(ConfigLeaf::getPath, ConfigLeaf::getLayer, ConfigLeaf::getChangeId).containsExactly(
        org.assertj.core.groups.Tuple.tuple("db.pool.max", "env/prod/service/greeter", prodGreeterMax),
        org.assertj.core.groups.Tuple.tuple("db.pool.min", "env/prod", prodGreeterMax - 1));
    // an instance in a region and an environment sees both, the environment's layers above the region's
    assertThat(f.get(admin, "greeter", "eu", "prod", "", false).getJson())
        .isEqualTo("{\"db\":{\"host\":\"db.eu\",\"pool\":{\"max\":50,\"min\":5},\"port\":5432},\"greeting\":\"hallo\"}");
    // a service alone sees global and its own layer; a path with nothing there answers an empty value
    assertThat(f.get(admin, "greeter", "", "", "db.pool.max", false).getJson()).isEqualTo("20");
    assertThat(f.get(admin, "greeter", "", "", "nothing.here", false).getJson()).isEmpty();
    // deleting a subtree of a layer uncovers the layer below
    f.delete(admin, PROD_GREETER, "db");
    assertThat(f.get(admin, "greeter", "", "prod", "db.pool.max", false).getJson()).isEqualTo("20");
  }

  @Test
  void everyChangeIsRecordedWithWhoWhyAndOldAndNewValueAndPaged() {
    String ada = f.user("ada", "ADMIN.CONFIG");
    ConfigChange first = f.set(ada, GREETER, "greeting", "\"hello\"");
    ConfigChange second = f.set(ada, GREETER, "greeting", "\"hi\"");
    assertThat(second.getId()).isEqualTo(first.getId() + 1);
    assertThat(second.getUser()).isEqualTo("ada");
    assertThat(second.getMessage()).isEqualTo("set greeting");
    assertThat(second.getEditsList()).containsExactly(ConfigEdit.newBuilder().setLayer("service/greeter").setPath("greeting")
        .setOldJson("\"hello\"").setNewJson("\"hi\"").build());
    for (int i = 0; i < 5; i++) {
      f.set(ada, layer("other", "", ""), "n", Integer.toString(i));
    }
    ConfigLog page1 = f.as(ada).call(ConfigService.SERVICE, "log", ConfigLogRequest.newBuilder().setLimit(3).build(), ConfigLog.class);
    assertThat(page1.getHead()).isEqualTo(7);
    assertThat(page1.getChangesList()).extracting(ConfigChange::getId).containsExactly(7L, 6L, 5L);
    ConfigLog page2 = f.as(ada).call(ConfigService.SERVICE, "log",
        ConfigLogRequest.newBuilder().setLimit(3).setBefore(page1.getNextBefore()).build(), ConfigLog.class);
    assertThat(page2.getChangesList()).extracting(ConfigChange::getId).containsExactly(4L, 3L, 2L);
    ConfigLog greeter = f.as(ada).call(ConfigService.SERVICE, "log", ConfigLogRequest.newBuilder().setService("greeter").build(), ConfigLog.class);
    assertThat(greeter.getChangesList()).extracting(ConfigChange::getId).containsExactly(2L, 1L);
    assertThat(greeter.getNextBefore()).isZero();
    assertRefused(() -> f.as(ada).call(ConfigService.SERVICE, "log", ConfigLogRequest.newBuilder().setLimit(201).build(), ConfigLog.class),
        ErrorCode.BAD_REQUEST, "200");
  }

  @Test
  void aChangeMadeAgainstAStaleVersionOfItsLayerIsRefusedNotMerged() {
    long base = f.set(admin, GREETER, "greeting", "\"hello\"").getId();
    f.set(admin, GREETER, "greeting", "\"hi\"", base);
    assertRefused(() -> f.set(admin, GREETER, "greeting", "\"howdy\"", base), ErrorCode.CONFLICT, "service/greeter", "changed at version");
    assertThat(f.get(admin, "greeter", "", "", "greeting", false).getJson()).isEqualTo("\"hi\"");
    // another layer's change does not make it stale
    f.set(admin, GLOBAL, "x", "1");
    assertThat(f.set(admin, layer("other", "", ""), "y", "2", base).getId()).isEqualTo(base + 3);
    assertRefused(() -> f.set(admin, GREETER, "greeting", "1", 999), ErrorCode.BAD_REQUEST, "no version 999");
  }

  @Test
  void rollbackRestoresAnEarlierVersionAndIsItselfAChangeInTheHistory() {
    f.set(admin, GLOBAL, "timeout", "5");
    long good = f.set(admin, GREETER, "greeting", "\"hello\"").getId();
    f.set(admin, GREETER, "greeting", "\"BROKEN\"");
    f.set(admin, GLOBAL, "timeout", "0");
    f.set(admin, EU, "db", "{\"host\":\"x\"}");
    long head = f.get(admin, "", "", "", "", false).getVersion();

    ConfigDiff diff = f.as(admin).call(ConfigService.SERVICE, "diff", ConfigDiffRequest.newBuilder().setFromVersion(good).build(), ConfigDiff.class);
    assertThat(diff.getToVersion()).isEqualTo(head);
    assertThat(diff.getEditsList()).extracting(ConfigEdit::getLayer, ConfigEdit::getPath, ConfigEdit::getOldJson, ConfigEdit::getNewJson)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("global", "timeout", "5", "0"),
            org.assertj.core.groups.Tuple.tuple("region/eu", "db.host", "", "\"x\""),
            org.assertj.core.groups.Tuple.tuple("service/greeter", "greeting", "\"hello\"", "\"BROKEN\""));

    // a rollback made against an older version than the newest is refused
    assertRefused(() -> rollback(admin, good, head - 1), ErrorCode.CONFLICT);
    ConfigChange back = rollback(admin, good, head);
    assertThat(back.getId()).isEqualTo(head + 1);
    assertThat(back.getRollbackTo()).isEqualTo(good);
    assertThat(back.getUser()).isEqualTo("admin");
    assertThat(f.get(admin, "greeter", "eu", "", "", false).getJson()).isEqualTo("{\"greeting\":\"hello\",\"timeout\":5}");
    ConfigLog log = f.as(admin).call(ConfigService.SERVICE, "log", ConfigLogRequest.newBuilder().setLimit(1).build(), ConfigLog.class);
    assertThat(log.getChanges(0)).isEqualTo(back);
    // the rollback can itself be diffed and undone: roll back to just before it
    ConfigDiff none = f.as(admin).call(ConfigService.SERVICE, "diff",
        ConfigDiffRequest.newBuilder().setFromVersion(good).setToVersion(back.getId()).build(), ConfigDiff.class);
    assertThat(none.getEditsList()).isEmpty();
    rollback(admin, head, back.getId());
    assertThat(f.get(admin, "greeter", "", "", "greeting", false).getJson()).isEqualTo("\"BROKEN\"");
    assertRefused(() -> rollback(admin, head, head + 2), ErrorCode.BAD_REQUEST, "already");
  }

  /** A set that changes nothing is refused as a rollback that changes nothing is, and nothing is recorded or announced. */
  @Test
  void aSetThatChangesNothingIsRefusedAndNotRecorded() {
    f.set(admin, GREETER, "greeting", "\"Hola\"");
    f.set(admin, GREETER, "db", "{\"port\":5432,\"host\":\"h\"}");
    long head = f.get(admin, "", "", "", "", false).getVersion();
    assertRefused(() -> f.set(admin, GREETER, "greeting", "\"Hola\""), ErrorCode.BAD_REQUEST, "greeting", "already");
    // the same tree written another way (keys in another order, a number as 5432.0) is the same value
    assertRefused(() -> f.set(admin, GREETER, "db", "{\"host\":\"h\",\"port\":5432.0}"), ErrorCode.BAD_REQUEST, "already");
    assertThat(f.get(admin, "", "", "", "", false).getVersion()).isEqualTo(head);
    // a value that does change is recorded as before
    assertThat(f.set(admin, GREETER, "greeting", "\"Hello\"").getId()).isEqualTo(head + 1);
  }

  private ConfigChange rollback(String token, long to, long base) {
    return f.as(token).call(ConfigService.SERVICE, "rollback",
        RollbackConfigRequest.newBuilder().setToVersion(to).setBaseVersion(base).setMessage("back to " + to).build(), ConfigChange.class);
  }

  @Test
  void changesNeedRoleAdminConfigScopedToTheLayersService() {
    String reader = f.user("reader");
    String greeterAdmin = f.user("gadmin", "ADMIN.CONFIG:greeter");
    assertRefused(() -> f.set(reader, GREETER, "greeting", "\"x\""), ErrorCode.FORBIDDEN, "ADMIN.CONFIG");
    assertRefused(() -> f.set(greeterAdmin, GLOBAL, "greeting", "\"x\""), ErrorCode.FORBIDDEN, "ADMIN.CONFIG");
    assertRefused(() -> f.set(greeterAdmin, layer("other", "", ""), "greeting", "\"x\""), ErrorCode.FORBIDDEN, "ADMIN.CONFIG:other");
    long v = f.set(greeterAdmin, EU_GREETER, "greeting", "\"x\"").getId();
    // a scoped administrator may not roll back a change to the global layer
    f.set(admin, GLOBAL, "timeout", "1");
    assertRefused(() -> rollback(greeterAdmin, v, v + 1), ErrorCode.FORBIDDEN, "ADMIN.CONFIG");
    // a service (the client's broker user, no person): reads, but changes nothing
    assertThat(f.client().call(ConfigService.SERVICE, "get", GetConfigRequest.newBuilder().setService("greeter").setRegion("eu").build(),
        ConfigView.class).getJson()).isEqualTo("{\"greeting\":\"x\",\"timeout\":1}");
    assertRefused(() -> f.client().call(ConfigService.SERVICE, "set", SetConfigRequest.newBuilder().setPath("a").setValueJson("1")
        .setMessage("m").build(), ConfigChange.class), ErrorCode.UNAUTHORIZED);
    // anyone signed in reads
    assertThat(f.get(reader, "greeter", "eu", "", "greeting", false).getJson()).isEqualTo("\"x\"");
    assertThat(f.get(reader, "", "", "", "", false).getVersion()).isEqualTo(v + 1);
  }

  @Test
  void hostileIdsPathsValuesAndMessagesAreRefusedWithBadRequest() {
    for (String path : new String[] {"a..b", ".a", "a.", "a b", "a\u001b[31m", "ä", "x".repeat(65), "a.".repeat(16) + "a", "a/b"}) {
      assertRefused(() -> f.set(admin, GLOBAL, path, "1"), ErrorCode.BAD_REQUEST, "path");
    }
    assertRefused(() -> f.set(admin, GLOBAL, "", "{}"), ErrorCode.BAD_REQUEST, "path");
    for (ConfigLayer l : new ConfigLayer[] {layer("../etc", "", ""), layer("", "eu\nx", ""), layer("", "eu", "prod"), layer("-a", "", "")}) {
      assertRefused(() -> f.set(admin, l, "a", "1"), ErrorCode.BAD_REQUEST);
    }
    for (String json : new String[] {"{", "not json", "'single'", "1 2", "[1,]", "01", "{\"a\":1,\"a\":2}", "{\"a b\":1}", "[".repeat(40) + "]".repeat(40), "\"" + "x".repeat(70_000) + "\""}) {
      assertRefused(() -> f.set(admin, GLOBAL, "a", json), ErrorCode.BAD_REQUEST);
    }
    // an integer a double cannot hold exactly is refused, not kept changed
    for (String json : new String[] {"12345678901234567890", "9007199254740993", "-9007199254740993", "[1, 99999999999999999999]"}) {
      assertRefused(() -> f.set(admin, GLOBAL, "big", json), ErrorCode.BAD_REQUEST, "cannot be kept exactly", "as a string");
    }
    f.set(admin, GLOBAL, "big", "{\"max\":9007199254740992,\"id\":1234567890123456,\"ratio\":0.25}");
    assertThat(f.get(admin, "", "", "", "big", false).getJson()).as("integers up to 2^53 as written, not in E notation")
        .isEqualTo("{\"id\":1234567890123456,\"max\":9007199254740992,\"ratio\":0.25}");
    f.delete(admin, GLOBAL, "big");
    assertRefused(() -> f.as(admin).call(ConfigService.SERVICE, "set", SetConfigRequest.newBuilder().setPath("a").setValueJson("1")
        .setMessage("").build(), ConfigChange.class), ErrorCode.BAD_REQUEST, "message");
    assertRefused(() -> f.as(admin).call(ConfigService.SERVICE, "set", SetConfigRequest.newBuilder().setPath("a").setValueJson("1")
        .setMessage("m".repeat(1001)).build(), ConfigChange.class), ErrorCode.BAD_REQUEST, "message");
    // a layer's document is bounded: values that fit one by one, not all together
    String big = "\"" + "x".repeat(40_000) + "\"";
    f.set(admin, GLOBAL, "a", big);
    assertRefused(() -> f.set(admin, GLOBAL, "b", big), ErrorCode.BAD_REQUEST, "bytes");
    // the layer count is bounded (100 in the fixture)
    for (int i = 0; i < 99; i++) {
      f.set(admin, layer("s" + i, "", ""), "a", "1");
    }
    assertRefused(() -> f.set(admin, layer("one-too-many", "", ""), "a", "1"), ErrorCode.CAPACITY, "layers");
    // deleting what is not there
    assertRefused(() -> f.delete(admin, GLOBAL, "nothing"), ErrorCode.NOT_FOUND);
    // version 0 is no configuration at all, not a version to roll back to (it would wipe every layer, unmarked)
    for (long to : new long[] {0, -5}) {
      assertRefused(() -> f.as(admin).call(ConfigService.SERVICE, "rollback", dev.skiff.proto.v1.RollbackConfigRequest.newBuilder()
          .setToVersion(to).setBaseVersion(102).setMessage("wipe").build(), ConfigChange.class), ErrorCode.BAD_REQUEST, "version");
    }
    assertThat(f.get(admin, "", "", "", "", false).getVersion()).isEqualTo(102);
  }
}
