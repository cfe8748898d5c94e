package dev.skiff.kernel.config;

import static dev.skiff.kernel.config.ConfigFixture.layer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.skiff.kernel.Refusals;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.config.Config;
import dev.skiff.proto.v1.ConfigChange;
import dev.skiff.proto.v1.ConfigLog;
import dev.skiff.proto.v1.ConfigLogRequest;
import dev.skiff.service.TestStores;
import dev.skiff.service.cassandra.CassandraProcess;
import dev.skiff.testing.RabbitMqExtension;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The config service on a Cassandra node of the test's own, which stops and starts again under it. */
class ConfigStoreRestartTest {
  @RegisterExtension static final RabbitMqExtension broker = RabbitMqExtension.create();

  @TempDir Path dir;

  @Test
  void whileTheStoreIsDownRequestsAreUnavailableAndAfterItsRestartEverythingIsThere() {
    try (CassandraProcess node = new CassandraProcess(dir.resolve("node"));
        ConfigFixture f = new ConfigFixture(broker.amqpUri())) {
      Config config = Config.of(TestStores.cassandraSettings(node.address()));
      f.start(new CassandraConfigStore(config, "skiff_config"));
      String admin = f.admin();
      f.set(admin, layer("", "", ""), "timeout", "5");
      ConfigChange second = f.set(admin, layer("greeter", "", ""), "greeting", "\"hello\"");

      node.stop();
      SkiffException down = Refusals.refusal(() -> f.set(admin, layer("greeter", "", ""), "greeting", "\"lost\"", second.getId()));
      assertThat(down.code()).as(down.getMessage()).isIn(ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT);

      node.start();
      await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(500)).ignoreExceptions()
          .until(() -> f.get(admin, "greeter", "", "", "", false).getVersion() == second.getId());
      assertThat(f.get(admin, "greeter", "", "", "", false).getJson()).isEqualTo("{\"greeting\":\"hello\",\"timeout\":5}");
      ConfigChange third = f.set(admin, layer("greeter", "", ""), "greeting", "\"hi\"", second.getId());
      assertThat(third.getId()).isEqualTo(3);
      ConfigLog log = f.as(admin).call(ConfigService.SERVICE, "log", ConfigLogRequest.getDefaultInstance(), ConfigLog.class);
      assertThat(log.getChangesList()).extracting(ConfigChange::getId).containsExactly(3L, 2L, 1L);
      node.kill(); // its data is the test's: no need for the drain of a SIGTERM at close (seconds of CI time)
    }
  }
}
